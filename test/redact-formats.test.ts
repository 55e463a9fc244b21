// No output cloudtriage writes carries a secret it can recognise: every kind, through every format and trace.
import { describe, expect, it } from "vitest";
import { makeTree, runCli } from "./helpers/cli.js";

const req = "req-5b9a6c1e-8d3f-4f61-9c2a-0e7b1d4a3f27";
const stamp = (n: number) => `2024-03-12 10:15:${String(10 + n).padStart(2, "0")}.001`;

// Each secret sits in an ERROR record no rule knows (so it becomes an unmatched-error finding with the
// line as its message) or in a line related to a real finding by its request id.
const secrets: { kind: string; secret: string; text: string }[] = [
  { kind: "URL password (rabbit)", secret: "Rb7kQ2xZp9", text: "Unable to connect to AMQP server on rabbit://openstack:Rb7kQ2xZp9@ctl-1:5672/ after retries" },
  { kind: "URL password (mysql)", secret: "dbPw4711xyz", text: "Error connecting to mysql+pymysql://nova:dbPw4711xyz@10.0.0.5/nova_api?charset=utf8" },
  { kind: "password= setting", secret: "adm1nS3cret", text: "Failed to apply option admin_password=adm1nS3cret from the environment" },
  { kind: "IDENTIFIED BY", secret: "GrantPw42zz", text: "Statement failed: GRANT ALL ON nova.* TO 'nova'@'%' IDENTIFIED BY 'GrantPw42zz'" },
  { kind: "X-Auth-Token header", secret: "gAAAAABmQk1x", text: "Request headers {'X-Auth-Token': 'gAAAAABmQk1xR4nd0mT0k3nV4lu3Th4tIsL0ng3n0ugh'} were rejected" },
  {
    kind: "Fernet token",
    secret: "gAAAAABlZXhhbXBsZXRva2VuZm9yY2xvdWR0cmlhZ2V0ZXN0c29ubHl0aGlzaXNub3RhcmVhbHRva2VuYXRhbGxfX19fX19fX19fX19fX19fX18",
    text: "Token validation failed for gAAAAABlZXhhbXBsZXRva2VuZm9yY2xvdWR0cmlhZ2V0ZXN0c29ubHl0aGlzaXNub3RhcmVhbHRva2VuYXRhbGxfX19fX19fX19fX19fX19fX18 at the gateway",
  },
  { kind: "ceph key", secret: "AQBq4W5lAAAAABAAz8v3X9mT2hYkRkqLQxW0pA==", text: "Keyring rejected: key = AQBq4W5lAAAAABAAz8v3X9mT2hYkRkqLQxW0pA==" },
  { kind: "Authorization header", secret: "dXNlcjpwYXNzd29yZDEyMzQ1Ng", text: "Upstream answered 401 to Authorization: Basic dXNlcjpwYXNzd29yZDEyMzQ1Ng" },
  { kind: "private key block", secret: "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun", text: "Bad PEM: -----BEGIN RSA PRIVATE KEY-----MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun-----END RSA PRIVATE KEY-----" },
];

function logTree(): string {
  const errors = secrets.map((s, i) => `${stamp(i)} 2744 ERROR nova.conductor.manager [None req-0c4f9e3d-0a57-4b41-8f46-1c3e5d7f9a0${i} - - default default] ${s.text}`);
  const conductor = [
    ...errors,
    `${stamp(20)} 2744 WARNING nova.scheduler.utils [None ${req} - - default default] Failed to compute_task_build_instances: No valid host was found. There are not enough hosts available.`,
    "",
  ].join("\n");
  // A line of another component with the same request id carries a password: it becomes a related line.
  const api = `${stamp(19)} 1877 INFO nova.api.openstack.requestlog [None ${req} - - default default] Connecting with transport_url=rabbit://nova:RelatedPw99@ctl-1:5672/ for "POST /v2.1/servers" status: 202 len: 414\n`;
  return makeTree({ "controller-0/etc/hostname": "controller-0\n", "controller-0/var/log/nova/nova-conductor.log": conductor, "controller-0/var/log/nova/nova-api.log": api }, "ct-redact-");
}

const formats = ["text", "json", "ndjson", "sarif", "junit", "markdown"];

describe("redaction in every output", () => {
  const root = logTree();
  const everySecret = [...secrets.map((s) => s.secret), "RelatedPw99"];

  for (const format of formats) {
    it(`hides every kind of secret in --format ${format}, and keeps ids and hosts`, async () => {
      const { code, stdout } = await runCli(["scan", root, "--format", format, "--color"]);
      expect(code).toBe(1);
      for (const s of everySecret) {
        expect(stdout, `${format} leaks ${s}`).not.toContain(s);
        // Nor a piece of it: a template that masked only its digits would still give it away.
        expect(stdout, `${format} leaks part of ${s}`).not.toContain(s.slice(2, 8));
      }
      if (format !== "text" && format !== "junit" && format !== "markdown") expect(stdout).toContain(req);
      expect(stdout).toContain("controller-0");
    });
  }

  it("hides them in trace, text and JSON", async () => {
    for (const format of ["text", "json"]) {
      const { stdout } = await runCli(["trace", req, root, "--format", format]);
      expect(stdout).toContain("POST /v2.1/servers");
      expect(stdout).not.toContain("RelatedPw99");
    }
  });

  it("hides a secret in a file's name in the live NDJSON finding, as in the report", async () => {
    const tree = makeTree({ "var/log/nova/nova-conductor-password=Hunter22x.log": `${stamp(1)} 2744 ERROR nova.conductor.manager [None ${req} - - default default] Failed to compute_task_build_instances: No valid host was found. There are not enough hosts available.\n` }, "ct-redact-path-");
    for (const format of ["ndjson", "json"]) {
      const { stdout } = await runCli(["scan", tree, "--format", format]);
      expect(stdout, format).toContain("nova-no-valid-host");
      expect(stdout, format).not.toContain("Hunter22x");
    }
  });

  it("shows them with --no-redact, so the test above proves the masking and not their absence", async () => {
    const { stdout } = await runCli(["scan", root, "--format", "json", "--no-redact"]);
    for (const s of secrets) expect(stdout, s.kind).toContain(s.secret);
    expect(stdout).toContain("RelatedPw99");
  });
});
