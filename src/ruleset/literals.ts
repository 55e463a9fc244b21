// Finds the literal text every match of a regex must contain, as grep and ripgrep do for their prefilters.

/** Splits at top-level `|`, outside groups and classes. */
export function topBranches(pattern: string): string[] {
  const branches: string[] = [];
  let depth = 0;
  let inClass = false;
  let start = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\") {
      i++;
      continue;
    }
    if (inClass) {
      if (c === "]") inClass = false;
      continue;
    }
    if (c === "[") inClass = true;
    else if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "|" && depth === 0) {
      branches.push(pattern.slice(start, i));
      start = i + 1;
    }
  }
  branches.push(pattern.slice(start));
  return branches;
}

const escapedLiteral = new Set([..."\\.^$|?*+()[]{}/-:'\"<>=!,#%&@~` "]);

/**
 * The longest run of literal characters at group depth 0 in one branch. A character followed by
 * `?`, `*` or `{0,…}` is optional and breaks the run; `+` keeps it but ends the run.
 */
export function requiredLiteral(branch: string): string {
  let best = "";
  let run = "";
  let depth = 0;
  const end = () => {
    if (run.length > best.length) best = run;
    run = "";
  };
  for (let i = 0; i < branch.length; i++) {
    const c = branch[i] ?? "";
    let literal: string | null = null;
    let width = 1;
    if (c === "\\") {
      const next = branch[i + 1] ?? "";
      width = 2;
      if (escapedLiteral.has(next)) literal = next;
      else if (next === "u" && /^[0-9a-fA-F]{4}$/.test(branch.slice(i + 2, i + 6))) {
        literal = String.fromCharCode(parseInt(branch.slice(i + 2, i + 6), 16));
        width = 6;
      } else if (next === "x" && /^[0-9a-fA-F]{2}$/.test(branch.slice(i + 2, i + 4))) {
        literal = String.fromCharCode(parseInt(branch.slice(i + 2, i + 4), 16));
        width = 4;
      }
    } else if (c === "(") {
      end();
      depth++;
      continue;
    } else if (c === ")") {
      depth--;
      end();
      // A quantifier after a group applies to the group, which is not part of the run anyway.
      continue;
    } else if (c === "[") {
      end();
      // skip the class
      let j = i + 1;
      if (branch[j] === "^") j++;
      if (branch[j] === "]") j++;
      while (j < branch.length && branch[j] !== "]") j += branch[j] === "\\" ? 2 : 1;
      i = j;
      continue;
    } else if (!".^$|?*+{}".includes(c)) {
      literal = c;
    }
    if (depth > 0) continue;
    if (literal === null) {
      end();
      i += width - 1;
      continue;
    }
    const after = branch[i + width] ?? "";
    if (after === "?" || after === "*" || (after === "{" && /^\{0[,}]/.test(branch.slice(i + width)))) {
      end();
    } else if (after === "+" || after === "{") {
      run += literal;
      end();
    } else {
      run += literal;
    }
    i += width - 1;
  }
  end();
  return best;
}

/** One literal per top-level branch, or null when some branch has none long enough. */
export function requiredLiterals(pattern: string, minLength: number): string[] | null {
  const out: string[] = [];
  for (const branch of topBranches(pattern)) {
    const literal = requiredLiteral(branch);
    if (Buffer.byteLength(literal) < minLength) return null;
    out.push(literal);
  }
  return out;
}
