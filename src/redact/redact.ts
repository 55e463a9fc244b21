// Masks the secrets cloudtriage can recognise (passwords, tokens, keys) in every string scan() hands to a reporter.
import type { Finding, Incident, RelatedLine, ScanResult, SkippedInput } from "../model.js";

export const MASK = "***";

// One cheap test gates every pass: most output strings hold none of these words, and the
// passes below cost several scans each. Every pass must be reachable through one of them.
const HINT = /pass|secret|token|[_-]key|identified|authoriz|private key|:\/\/|mysql|gaaaaa|mii|pkiz_|eyj|aq[a-z0-9+/]{36,38}==/i;

// Key names whose value is a secret. A key counts when it *ends* with one of these, so
// `admin_password` and `metadata_proxy_shared_secret` match but `rbd_secret_uuid` (a UUID naming
// the secret) and `password_expires_at` do not. `private_key` is left out: its value is a path
// or an ovsdb reference, and the key itself is caught by PRIVATE_KEY_BLOCK.
const KEY_WORD =
  "password|passwd|passphrase|pass|secret|secret[_-]key|secret[_-]access[_-]key" +
  "|api[_-]key|fixed[_-]key|encryption[_-]key|hmac[_-]keys|auth[_-]key|token";

// A value as logs write it: escaped-JSON quotes, JSON/Python strings (u'' and b'' reprs too), or a
// bare word. A closing quote may be missing when the line was cut. A bare word stops at the
// punctuation that ends it in kwargs, query strings and Java toString(), and never starts with
// `{` or `[`, because keystone bodies nest `"password": {"user": …}` around the real one.
const VALUE =
  String.raw`(?:\\"(?:[^"\\\n]|\\[^"\n])*(?:\\")?|\\'(?:[^'\\\n]|\\[^'\n])*(?:\\')?` +
  String.raw`|[ub]?"(?:[^"\\\n]|\\.)*"?|[ub]?'(?:[^'\\\n]|\\.)*'?` +
  String.raw`|[^\s"'\x60,;&<>(){}\[\]\\][^\s"'\x60,;&<>)}\]\\]*)`;

// `password=x`, `password = x`, `"password": "x"`, `'password': u'x'`, `password => 'x'`, `X-Auth-Token: x`.
// The match starts at the key word and the rest of the key is read backwards in code: a regex
// that started at the key's first character would retry every word boundary of a long dotted line.
const KEY_VALUE = new RegExp(
  String.raw`(${KEY_WORD})((?:\\?["'])?)([ \t]{0,64}(?:=>|=|:)[ \t]{0,64})(${VALUE})`,
  "gi",
);
const KEY_CHAR = /[\w.-]/;
const MAX_KEY_CHARS = 80;

// `--password X`, `--os-password 'X'`, `--os-token X`; the `=` form is KEY_VALUE's.
const CLI_FLAG = new RegExp(
  String.raw`(?<![\w-])(--[\w.-]{0,60}?(?:${KEY_WORD}))(?![\w-])([ \t]+)(?!-)(${VALUE})`,
  "gi",
);

// `scheme://user:pass@host`; the user info is split out in code (multi-host transport_url). The
// match starts at the literal `://` and checks the scheme behind it, so a long dotted word is
// not retried at every boundary.
const URL_AUTHORITY = /:\/\/(?<=\b[a-z][a-z0-9+.-]{0,31}:\/\/)([^\s/"'<>\\]+)/gi;

// `Authorization: Basic …`, `Bearer …`; the scheme word stays so the reader sees what was sent.
const AUTHORIZATION = new RegExp(
  String.raw`(\b(?:proxy-)?authorization(?:\\?["'])?[ \t]*[:=][ \t]*(?:\\?["'])?(?:[a-z][\w-]{0,30}[ \t]+)?)([^\s"'\\,;]+)`,
  "gi",
);

// MySQL: `IDENTIFIED BY 'x'`, `IDENTIFIED WITH mysql_native_password BY 'x'`, `PASSWORD('x')`.
const MYSQL_IDENTIFIED = new RegExp(
  String.raw`(\bidentified(?:[ \t]+with[ \t]+[\w-]{1,40})?[ \t]+by[ \t]+(?:password[ \t]+)?)(${VALUE})`,
  "gi",
);
const MYSQL_PASSWORD_CALL = /(\bpassword[ \t]*\([ \t]*)('(?:[^'\\\n]|\\.)*'?|"(?:[^"\\\n]|\\.)*"?)/gi;
// `mysql -uroot -ps3cret`: the password is glued to -p; case matters (-P is the port).
const MYSQL_CLI_P = /(\bmysql(?:dump|admin|sh)?\b[^\n|;&]{0,200}?[ \t]-p)([^\s"'-][^\s"']*)/g;

// iscsiadm CHAP settings, as os-brick and cinder log the command line.
const ISCSI_CHAP = new RegExp(String.raw`(\.auth\.password(?:_in)?[ \t]+-v[ \t]+)(${VALUE})`, "gi");

// QEMU command lines carry the libvirt secret (a ceph key, a LUKS passphrase) as `data=`.
const QEMU_SECRET_ARG = /(\bsecret,(?:[^,\s]{0,200},){0,8}?data=)([^,\s'"\\]+)/g;
const QEMU_SECRET_JSON = /("qom-type"[ \t]*:[ \t]*"secret"[^}\n]{0,400}?"data"[ \t]*:[ \t]*")([^"\n]*)/g;

// `<password>x</password>` in SOAP (VMware) and ZStack XML bodies.
const XML_ELEMENT = /(<[\w:.-]{0,40}?(?:password|passwd|secret|token)>)([^<\n]+)(?=<\/)/gi;

// PEM private keys, kept from BEGIN to END; a message cut before END is masked to its end.
const PRIVATE_KEY_BLOCK =
  /(-----BEGIN [A-Z0-9 ]{0,30}PRIVATE KEY(?: BLOCK)?-----)[\s\S]*?(-----END [A-Z0-9 ]{0,30}PRIVATE KEY(?: BLOCK)?-----|$)/g;

// Secrets recognisable by shape alone, wherever they appear. Each starts where a base64 run starts.
const BARE_SECRETS: readonly RegExp[] = [
  // Keystone Fernet token: urlsafe base64 of a 0x80 version byte and a timestamp, 180+ chars in practice.
  /(?<![\w-])gAAAAA[\w-]{94,}={0,2}/g,
  // Keystone PKI token (CMS, DER starts 0x30 0x82 → "MII", `/` written as `-`) and PKIZ.
  /(?<![\w+/-])MII[A-Za-z0-9+/=-]{100,}/g,
  /(?<![\w-])PKIZ_[\w-]{40,}/g,
  // JWT (Kubernetes service-account and OIDC tokens): header and payload are base64 JSON objects.
  /(?<![\w-])eyJ[\w-]{10,}\.eyJ[\w-]{10,}\.[\w-]*/g,
  // Ceph key: base64 of 28 bytes (type 1 = AES gives "AQ", then created time, length, 16 key bytes),
  // 40 characters with "=="; two more are allowed in case a tool pads differently.
  /(?<![A-Za-z0-9+/])AQ[A-Za-z0-9+/]{36,38}==/g,
];
// Keystone UUID tokens are bare hex, so only "token <hex>" (horizon's "Deleted token …") is known.
const TOKEN_HEX = /(\btoken[ \t]+)([0-9a-f]{32})(?![0-9a-z])/gi;

// Values that are not secrets: already masked (sosreport `*********`, oslo `****`, keystoneclient
// `TOKEN_REDACTED`), booleans such as MySQL's "(using password: YES)" or nova's
// `inject_password = False`, keystoneauth's `{SHA256}` digests and oslo's `hmac_keys` default.
const NOT_SECRET =
  /^(?:\**|true|false|yes|no|none|null|\{SHA\d*\}.*|[A-Z_]*REDACTED[A-Z_]*|<redacted>|\[redacted\]|\[filtered\]|SECRET_KEY)$/i;
// A bare value that is Python code, as traceback source lines show it: `token = self._validate_token(…)`.
const CODE_VALUE = /^(?:(?:self|cls|CONF|conf)\.[A-Za-z_]|[A-Za-z_][\w.]*\()/;
// QEMU options that name a secret object by its id: `"key-secret":"libvirt-1-storage-secret0"`.
const SECRET_REFERENCE_KEY = /(?:^|[.-])(?:key|password|passphrase)-secret$/i;

// A token-like key takes `key: value` only as a header (`X-Auth-Token:`), a quoted key or a compound
// option name (`auth_token:`); after a bare word a colon is prose ("Failed to validate token: Unauthorized").
const COLON_TOKEN_KEY = /^x-|[_-]token$/i;
const PASS_WORD = /(?:^|[_.-]|admin|new)pass$/i;

// Patterns look at a secret's neighbours (`(?<![\w-])`), and masking one secret changes its
// neighbour's, so redaction repeats until nothing changes; that is what makes it idempotent.
// A change only ever replaces text that is not yet a mask with `***`, so two rounds are the
// rule and the cap is a guard.
const MAX_ROUNDS = 8;

export function redactText(text: string): string {
  if (!HINT.test(text)) return text;
  let out = text;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const next = redactOnce(out);
    if (next === out) break;
    out = next;
  }
  return out;
}

function redactOnce(text: string): string {
  let out = text.replace(PRIVATE_KEY_BLOCK, (_m, begin: string, end: string) => `${begin}${MASK}${end}`);
  out = out.replace(URL_AUTHORITY, (m, authority: string) =>
    authority.includes("@") ? `://${maskAuthority(authority)}` : m,
  );
  out = out.replace(AUTHORIZATION, maskSecondGroup);
  out = out.replace(KEY_VALUE, (m, word: string, quote: string, sep: string, value: string, offset: number, all: string) => {
    const keyStart = findKeyStart(all, offset);
    const key = all.slice(keyStart, offset) + word;
    return isSecretKeyValue(key, quote, sep) ? word + quote + sep + maskValue(value) : m;
  });
  out = out.replace(CLI_FLAG, (m, flag: string, space: string, value: string) =>
    isSecretKeyName(flag) ? flag + space + maskValue(value) : m,
  );
  out = out.replace(MYSQL_IDENTIFIED, maskSecondGroup);
  out = out.replace(MYSQL_PASSWORD_CALL, maskSecondGroup);
  out = out.replace(MYSQL_CLI_P, maskSecondGroup);
  out = out.replace(ISCSI_CHAP, maskSecondGroup);
  out = out.replace(QEMU_SECRET_ARG, maskSecondGroup);
  out = out.replace(QEMU_SECRET_JSON, maskSecondGroup);
  out = out.replace(XML_ELEMENT, maskSecondGroup);
  for (const shape of BARE_SECRETS) out = out.replace(shape, MASK);
  out = out.replace(TOKEN_HEX, (_m, prefix: string) => prefix + MASK);
  return out;
}

/** A copy of the result with every string a reporter prints passed through redactText. Rule text (title, remediation, references) is static and left alone. */
export function redactResult(result: ScanResult): ScanResult {
  // Findings of one incident share their related lines (the same objects): each is redacted once.
  const relatedDone = new Map<RelatedLine, RelatedLine>();
  const redactShared = (line: RelatedLine) => {
    let done = relatedDone.get(line);
    if (!done) relatedDone.set(line, (done = redactRelated(line)));
    return done;
  };
  return {
    ...result,
    summary: { ...result.summary, skipped: result.summary.skipped.map(redactSkipped) },
    findings: result.findings.map((finding) => redactFinding(finding, redactShared)),
    incidents: result.incidents.map(redactIncident),
  };
}

/** One finding's copy, as redactResult makes it: for a live NDJSON finding, written before the result exists. */
export function redactOneFinding(finding: Finding): Finding {
  return redactFinding(finding, redactRelated);
}

function redactFinding(finding: Finding, redactLine: (line: RelatedLine) => RelatedLine): Finding {
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(finding.fields)) fields[name] = redactText(value);
  return {
    ...finding,
    path: redactText(finding.path),
    host: redactNullable(finding.host),
    component: redactNullable(finding.component),
    message: redactText(finding.message),
    requestIds: finding.requestIds.map(redactText),
    instanceIds: finding.instanceIds.map(redactText),
    fields,
    related: finding.related.map(redactLine),
  };
}

function redactRelated(line: RelatedLine): RelatedLine {
  return {
    ...line,
    path: redactText(line.path),
    host: redactNullable(line.host),
    component: redactNullable(line.component),
    message: redactText(line.message),
  };
}

function redactIncident(incident: Incident): Incident {
  return {
    ...incident,
    requestIds: incident.requestIds.map(redactText),
    instanceIds: incident.instanceIds.map(redactText),
    rootCause: redactText(incident.rootCause),
    summary: redactText(incident.summary),
  };
}

function redactSkipped(skipped: SkippedInput): SkippedInput {
  return { path: redactText(skipped.path), reason: redactText(skipped.reason) };
}

function redactNullable(text: string | null): string | null {
  return text === null ? null : redactText(text);
}

function maskSecondGroup(m: string, prefix: string, value: string): string {
  const masked = maskValue(value);
  return masked === value ? m : prefix + masked;
}

/** Replaces a value's text with the mask, keeping its quotes; leaves non-secrets as they are. */
function maskValue(value: string): string {
  const open = /^(?:\\["']|[ub]?["'])/.exec(value)?.[0] ?? "";
  let body = value.slice(open.length);
  let close = "";
  if (open !== "") {
    const quote = open.slice(-1);
    const wanted = open.startsWith("\\") ? `\\${quote}` : quote;
    if (body.endsWith(wanted)) {
      close = wanted;
      body = body.slice(0, -wanted.length);
    }
  }
  if (NOT_SECRET.test(body) || (open === "" && CODE_VALUE.test(body))) return value;
  return open + MASK + close;
}

function findKeyStart(text: string, wordStart: number): number {
  let start = wordStart;
  while (start > 0 && wordStart - start < MAX_KEY_CHARS && KEY_CHAR.test(text.charAt(start - 1))) start--;
  return start;
}

function isSecretKeyName(key: string): boolean {
  if (SECRET_REFERENCE_KEY.test(key)) return false;
  return !/pass$/i.test(key) || PASS_WORD.test(key);
}

function isSecretKeyValue(key: string, quote: string, sep: string): boolean {
  if (!isSecretKeyName(key)) return false;
  if (!sep.includes(":") || !/token$/i.test(key)) return true;
  return quote !== "" || COLON_TOKEN_KEY.test(key);
}

// Masks the password of every `user:pass@host` in a URL authority. oslo.messaging separates hosts
// with commas, so a comma ends a credential only once an `@` has been seen; a password holding `@`
// runs to the last `@` of its host.
function maskAuthority(authority: string): string {
  const hosts: string[] = [];
  let pending = "";
  for (const part of authority.split(",")) {
    pending = pending === "" ? part : `${pending},${part}`;
    if (part.includes("@")) {
      hosts.push(maskUserInfo(pending));
      pending = "";
    }
  }
  if (pending !== "") hosts.push(pending);
  return hosts.join(",");
}

function maskUserInfo(host: string): string {
  const at = host.lastIndexOf("@");
  const colon = host.indexOf(":");
  if (colon < 0 || colon > at) return host;
  const password = host.slice(colon + 1, at);
  return NOT_SECRET.test(password) ? host : `${host.slice(0, colon + 1)}${MASK}${host.slice(at)}`;
}
