// Validators for the CI formats, shared by the reporter tests and the sosreport end-to-end tests.
import { readFileSync } from "node:fs";
import { Ajv, type ValidateFunction } from "ajv";
import { SaxesParser } from "saxes";

export function sarifValidator(): ValidateFunction {
  // jest-sarif ships schemastore's 2.1.0-rtm.5 schema, the one OASIS published as 2.1.0. Errata 01 then
  // fixed its language pattern (invalid as a unicode regex) and required a region to say where it
  // starts; applied here, the two differ only in descriptions and redundant "type": "string" beside
  // string enums. Both are draft-04, which ajv 8 reads once "id" is spelled "$id".
  const schema = JSON.parse(
    readFileSync(new URL("../../node_modules/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json", import.meta.url), "utf8"),
  ) as { id: string; definitions: Record<string, { properties: Record<string, Record<string, unknown>>; anyOf?: unknown }> };
  const { $schema: _draft04, id, ...rest } = schema as typeof schema & { $schema: string };
  for (const name of ["run", "toolComponent"]) rest.definitions[name]!.properties.language!.pattern = "^[a-zA-Z]{2}(-[a-zA-Z]{2})?$";
  rest.definitions.region!.anyOf = [{ required: ["startLine"] }, { required: ["charOffset"] }, { required: ["byteOffset"] }];
  const ajv = new Ajv({ allErrors: true, strict: false });
  ajv.addFormat("uri", (value: string) => /^[A-Za-z][A-Za-z0-9+.-]*:/.test(value) && URL.canParse(value));
  ajv.addFormat("uri-reference", (value: string) => !/\s/.test(value) && URL.canParse(value, "http://base.invalid/"));
  ajv.addFormat("date-time", (value: string) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/.test(value) && !Number.isNaN(Date.parse(value)));
  const validate = ajv.compile({ ...rest, $id: id });
  return validate;
}

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
}

/** saxes enforces XML 1.0 well-formedness, forbidden characters included; it throws on any error. */
export function parseXml(xml: string): XmlElement {
  const parser = new SaxesParser();
  const root: XmlElement = { name: "#document", attributes: {}, children: [], text: "" };
  const stack = [root];
  parser.on("error", (error) => {
    throw error;
  });
  parser.on("opentag", (tag) => {
    const element: XmlElement = { name: tag.name, attributes: { ...tag.attributes } as Record<string, string>, children: [], text: "" };
    stack.at(-1)?.children.push(element);
    stack.push(element);
  });
  parser.on("text", (text) => {
    const top = stack.at(-1);
    if (top !== undefined) top.text += text;
  });
  parser.on("closetag", () => void stack.pop());
  parser.write(xml).close();
  const [document] = root.children;
  if (document === undefined) throw new Error("no root element");
  return document;
}

