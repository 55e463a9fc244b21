// Proves redaction masks each secret shape cloudtriage knows, keeps the text around it, and leaves ids and prose alone.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Finding, ScanResult } from "../src/model.js";
import { MASK, redactResult, redactText } from "../src/redact/redact.js";

// Random secrets made for these tests; none is a real credential.
const FERNET =
  "gAAAAABmQyswLZ59voC4_V_rIxOotp2N45_vCE6sUjauyKs7a_Q9Q5LKA9rWt0heWXqn7pDoPBTeHuar63Xq36eXycT3-JmNMHkYRX1kQDJczCVHgiFixGf06YK3-YKQiMmncDpmAryX7UA1X5YNLiwlqBA-ocoRCYK5uBJeTDzyiyJbuKjHVAfec45Xb-qzz8sFCeBmMYki";
const PKI =
  "MIIHH93vKOVPVTTxMxeU+BM3vMguNly05y1EA+UFE3kYUPqbVDj47hN8N4aNZ4p4R0zmOwFIrEuV9sFNt9q4ARXhRq3mmB4VZhSxlbaZ6RK19bVU8ZdinJpMlrYpuoZ6jfF+t09qfrkyzOXNdii8knDCjEMgDPhhrD0pzOQDu-D+Qu8jxKhSCX-1ifispKRCIlfi5iZ8n8XgLWtgZRhdRZRjy1hUqAYZzSMZPmtOm4ipQYrr5I5-a3xvMHI2xG2BZCVs";
const PKIZ =
  "PKIZ_eJwBeACH_3FJU-hI2rXDM-2pzmYs3sreSRmx95_zrSCRQa-veZl5CpBEY_EuPvHIx4YLWDf3wbcItVlWUR6oOnV8pE_zlKY_ldM0NQKjnd5dG9hBaHyKS87dQZSCdcoqMbzblaFc98P7u2F_XmOPP6PIiSVyQRrty94miDsHsfs_Phk";
const JWT =
  "eyJhbGciOiAiUlMyNTYiLCAia2lkIjogImsxIn0.eyJpc3MiOiAia3ViZXJuZXRlcy9zZXJ2aWNlYWNjb3VudCIsICJzdWIiOiAic3lzdGVtOnNlcnZpY2VhY2NvdW50Om9wZW5zdGFjazpub3ZhIn0.byXBXoXtCT2PM883GYsQN9AFH6MuwLHuM-ZY2dSEB8lfSFRfOQ-EclhaVHaT_ArpO5Ni6t1cCYGc-vSSBz5Bvg";
const CEPH_KEY = "AQCA+kFmAAAAABAAfz8ZFAasOELKurPSLcjUiQ==";
const CEPH_KEY_2 = "AQBRKkNmAAAAABAAr//RLmdCFl4/CjK8zAiFAg==";
const BASIC = "YWRtaW46V3E3I3pwTDI=";
const AWS_SECRET = "OsjUgCtR+FpEgueSepn2/CfX1dlD7n4p97GyUAfg";
const UUID_TOKEN = "2e0e238a4ef41427f187d4d30fd51838";
const QEMU_DATA = "RErCZjFSXA1k8nScOKxMsAoJzLvlr5TfERj9BlvSIXE=";
const PEM_LINES = [
  "ZpIGlUwdOF4LMh8ZxnEg5trZlT4KY50AL9zgbaUgNTWZalPTf/u99DzeVdHbk3Jl",
  "81vNtoXjIKDutvhIQogCCR3gV9zhaXjbDTtVRYwzj7Xk56UOURUDQRm2uwbU/REl",
  "JSEiZzSqdxxqCMh6da/JzFuHytyo19bLolc2qw3EjFBHMSzJ3dANY/tf0ChTrdof",
];

interface SecretCase {
  name: string;
  line: string;
  /** Exactly what an operator sees after redaction. */
  redacted: string;
  secrets: string[];
}

const SECRET_CASES: SecretCase[] = [
  {
    name: "the password of a rabbit transport_url",
    line: "ERROR oslo.messaging._drivers.impl_rabbit [-] Connection failed: rabbit://nova:R6xckbYPMuPMko@10.0.0.5:5672/ (retrying in 2.0 seconds)",
    redacted: "ERROR oslo.messaging._drivers.impl_rabbit [-] Connection failed: rabbit://nova:***@10.0.0.5:5672/ (retrying in 2.0 seconds)",
    secrets: ["R6xckbYPMuPMko"],
  },
  {
    name: "the password of a mysql+pymysql connection URL",
    line: "connection = mysql+pymysql://nova:kq0Y0LKUyKKBvX@db.ctl.example/nova?charset=utf8",
    redacted: "connection = mysql+pymysql://nova:***@db.ctl.example/nova?charset=utf8",
    secrets: ["kq0Y0LKUyKKBvX"],
  },
  {
    name: "every password of a multi-host amqp transport_url",
    line: "transport_url = amqp://openstack:FhGWiV0w0ALFgb@ctl1:5672,openstack:pV3pVKKlmzLZpo@ctl2:5672//",
    redacted: "transport_url = amqp://openstack:***@ctl1:5672,openstack:***@ctl2:5672//",
    secrets: ["FhGWiV0w0ALFgb", "pV3pVKKlmzLZpo"],
  },
  {
    name: "a URL password holding @ and #, up to the host's last @",
    line: "sqlalchemy.exc.ArgumentError: Could not parse URL from string 'postgresql://cinder:Ag@m7#IX@pg01/cinder'",
    redacted: "sqlalchemy.exc.ArgumentError: Could not parse URL from string 'postgresql://cinder:***@pg01/cinder'",
    secrets: ["Ag@m7#IX", "m7#IX"],
  },
  {
    name: "a redis URL with a password and no user",
    line: "backend_argument = url:redis://:rzSweaLusA0H2W@10.0.0.9:6379/0",
    redacted: "backend_argument = url:redis://:***@10.0.0.9:6379/0",
    secrets: ["rzSweaLusA0H2W"],
  },
  {
    name: "password = in a config line",
    line: "password = kDJ7wy3Rj9LGaZ",
    redacted: "password = ***",
    secrets: ["kDJ7wy3Rj9LGaZ"],
  },
  {
    name: "password= in a kwargs repr, keeping the next argument",
    line: "Connecting with Connection(host=db, user=nova, password=4GxkV6Jvnl7aNo, port=3306)",
    redacted: "Connecting with Connection(host=db, user=nova, password=***, port=3306)",
    secrets: ["4GxkV6Jvnl7aNo"],
  },
  {
    name: "admin_password and *_password options",
    line: "admin_password=n6f4nav1yDpaea ha_vrrp_auth_password = EEmBbXbWyuBOiR",
    redacted: "admin_password=*** ha_vrrp_auth_password = ***",
    secrets: ["n6f4nav1yDpaea", "EEmBbXbWyuBOiR"],
  },
  {
    name: "an oslo.config option dump of a password not marked secret",
    line: "DEBUG oslo_service.service [-] vmware.host_password           = p8wpOG4cWB0vhD log_opt_values /usr/lib/python3/dist-packages/oslo_config/cfg.py:2587",
    redacted: "DEBUG oslo_service.service [-] vmware.host_password           = *** log_opt_values /usr/lib/python3/dist-packages/oslo_config/cfg.py:2587",
    secrets: ["p8wpOG4cWB0vhD"],
  },
  {
    name: '"password": "…" in a keystone JSON body, keeping the nested object',
    line: 'REQ: {"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"id": "default"}, "password": "NuqP93nubqzHzz"}}}}}',
    redacted: 'REQ: {"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"id": "default"}, "password": "***"}}}}}',
    secrets: ["NuqP93nubqzHzz"],
  },
  {
    name: "'password': u'…' in a Python 2 dict repr",
    line: "{u'username': u'demo', u'password': u'CnYhoJaI6HMpeZ', u'tenant': u'demo'}",
    redacted: "{u'username': u'demo', u'password': u'***', u'tenant': u'demo'}",
    secrets: ["CnYhoJaI6HMpeZ"],
  },
  {
    name: "a password inside escaped JSON",
    line: String.raw`body: "{\"user\": \"nova\", \"password\": \"UfulfOoE30Wn1B\"}"`,
    redacted: String.raw`body: "{\"user\": \"nova\", \"password\": \"***\"}"`,
    secrets: ["UfulfOoE30Wn1B"],
  },
  {
    name: "a quoted password cut off at the end of a truncated line",
    line: '{"user": "nova", "password": "Hq4tZmW8cRb',
    redacted: '{"user": "nova", "password": "***',
    secrets: ["Hq4tZmW8cRb"],
  },
  {
    name: "passwd in libvirt XML and os_password in an environment dump",
    line: "<graphics type='vnc' port='5900' passwd='vW3k9Qa1' listen='0.0.0.0'/> OS_PASSWORD=Lm2cT7yX0pRz",
    redacted: "<graphics type='vnc' port='5900' passwd='***' listen='0.0.0.0'/> OS_PASSWORD=***",
    secrets: ["vW3k9Qa1", "Lm2cT7yX0pRz"],
  },
  {
    name: "a YAML password (clouds.yaml, kolla passwords.yml)",
    line: "  password: Xb7LkP2mQw9s\nkeystone_admin_password: Fd3sZq8vN1",
    redacted: "  password: ***\nkeystone_admin_password: ***",
    secrets: ["Xb7LkP2mQw9s", "Fd3sZq8vN1"],
  },
  {
    name: "--password and --os-password on a command line, quoted or not",
    line: "Running cmd: openstack --os-username admin --os-password 'Vq9 x2Lm' server create --password Ty6bN3Wc vm1",
    redacted: "Running cmd: openstack --os-username admin --os-password '***' server create --password *** vm1",
    secrets: ["Vq9 x2Lm", "Ty6bN3Wc"],
  },
  {
    name: "--os-token on a command line",
    line: `openstack --os-token ${FERNET} --os-url http://10.0.0.5:5000/v3 token revoke`,
    redacted: "openstack --os-token *** --os-url http://10.0.0.5:5000/v3 token revoke",
    secrets: [FERNET],
  },
  {
    name: "MySQL IDENTIFIED BY and PASSWORD()",
    line: "GRANT ALL ON nova.* TO 'nova'@'%' IDENTIFIED BY 'Pz4rXk8Ld2'; SET PASSWORD FOR 'glance'@'%' = PASSWORD('Jw5nQe3Ty7')",
    redacted: "GRANT ALL ON nova.* TO 'nova'@'%' IDENTIFIED BY '***'; SET PASSWORD FOR 'glance'@'%' = PASSWORD('***')",
    secrets: ["Pz4rXk8Ld2", "Jw5nQe3Ty7"],
  },
  {
    name: "MySQL IDENTIFIED WITH … BY",
    line: "ALTER USER 'cinder'@'10.0.0.%' identified with mysql_native_password by \"Rc8vBn2Kx5\";",
    redacted: "ALTER USER 'cinder'@'10.0.0.%' identified with mysql_native_password by \"***\";",
    secrets: ["Rc8vBn2Kx5"],
  },
  {
    name: "a mysql -p password",
    line: "COMMAND=/usr/bin/mysqldump -uroot -pGk3mW9qZt2 --all-databases",
    redacted: "COMMAND=/usr/bin/mysqldump -uroot -p*** --all-databases",
    secrets: ["Gk3mW9qZt2"],
  },
  {
    name: "X-Auth-Token and X-Subject-Token headers",
    line: `curl -g -i -X GET http://10.0.0.5:5000/v3/auth/tokens -H "X-Auth-Token: ${FERNET}" -H "X-Subject-Token: 7d3e604e126d4fc4a14fa2770f843a66"`,
    redacted: 'curl -g -i -X GET http://10.0.0.5:5000/v3/auth/tokens -H "X-Auth-Token: ***" -H "X-Subject-Token: ***"',
    secrets: [FERNET, "7d3e604e126d4fc4a14fa2770f843a66"],
  },
  {
    name: "a token header in a dict repr of request headers",
    line: "Request headers: {'User-Agent': 'python-novaclient', 'X-Auth-Token': 'b3f1c9a2d4e54f6a8b7c0d1e2f3a4b5c'}",
    redacted: "Request headers: {'User-Agent': 'python-novaclient', 'X-Auth-Token': '***'}",
    secrets: ["b3f1c9a2d4e54f6a8b7c0d1e2f3a4b5c"],
  },
  {
    name: "a Fernet token anywhere in a message",
    line: `WARNING keystonemiddleware.auth_token [-] Identity response: {"error": "Could not find token: ${FERNET}."}`,
    redacted: 'WARNING keystonemiddleware.auth_token [-] Identity response: {"error": "Could not find token: ***."}',
    secrets: [FERNET],
  },
  {
    name: "a PKI token and a PKIZ token",
    line: `token_id=${PKI} cached ${PKIZ}`,
    redacted: "token_id=*** cached ***",
    secrets: [PKI, PKIZ],
  },
  {
    name: "a bare PKI token in prose",
    line: `Unable to validate token ${PKI}`,
    redacted: "Unable to validate token ***",
    secrets: [PKI],
  },
  {
    name: "a horizon UUID token id",
    line: `2015-06-22 22:29:59,714 2583 INFO openstack_auth.views Deleted token ${UUID_TOKEN}`,
    redacted: "2015-06-22 22:29:59,714 2583 INFO openstack_auth.views Deleted token ***",
    secrets: [UUID_TOKEN],
  },
  {
    name: "a ceph key = line and a bare keyring key on a command line",
    line: `[client.cinder]\n\tkey = ${CEPH_KEY}\nCOMMAND=/usr/bin/ceph-authtool /var/lib/ceph/bootstrap-osd/ceph.keyring --create-keyring --name=client.bootstrap-osd --add-key=${CEPH_KEY_2}`,
    redacted:
      "[client.cinder]\n\tkey = ***\nCOMMAND=/usr/bin/ceph-authtool /var/lib/ceph/bootstrap-osd/ceph.keyring --create-keyring --name=client.bootstrap-osd --add-key=***",
    secrets: [CEPH_KEY, CEPH_KEY_2],
  },
  {
    name: "a ceph key in a QEMU rbd drive string",
    line: `-drive file=rbd:volumes/volume-fdc62393:id=cinder:key=${CEPH_KEY}:auth_supported=cephx\\;none,if=none`,
    redacted: "-drive file=rbd:volumes/volume-fdc62393:id=cinder:key=***:auth_supported=cephx\\;none,if=none",
    secrets: [CEPH_KEY],
  },
  {
    name: "Authorization: Basic and Bearer headers",
    line: `Authorization: Basic ${BASIC}\n'Authorization': 'Bearer ${JWT}'`,
    redacted: "Authorization: Basic ***\n'Authorization': 'Bearer ***'",
    secrets: [BASIC, JWT],
  },
  {
    name: "a bare JWT",
    line: `serviceaccount token ${JWT} expired`,
    redacted: "serviceaccount token *** expired",
    secrets: [JWT],
  },
  {
    name: "a private key block across lines, keeping its BEGIN and END lines",
    line: ["Key file content:", "-----BEGIN RSA PRIVATE KEY-----", ...PEM_LINES, "-----END RSA PRIVATE KEY-----", "done"].join("\n"),
    redacted: "Key file content:\n-----BEGIN RSA PRIVATE KEY-----***-----END RSA PRIVATE KEY-----\ndone",
    secrets: PEM_LINES,
  },
  {
    name: "a private key in escaped JSON",
    line: `{"private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\\n${PEM_LINES[0]}\\n-----END OPENSSH PRIVATE KEY-----\\n"}`,
    redacted: '{"private_key": "-----BEGIN OPENSSH PRIVATE KEY-----***-----END OPENSSH PRIVATE KEY-----\\n"}',
    secrets: [PEM_LINES[0]!],
  },
  {
    name: "a private key cut before its END line",
    line: `-----BEGIN PRIVATE KEY-----\n${PEM_LINES[1]}\n${PEM_LINES[2]}`,
    redacted: "-----BEGIN PRIVATE KEY-----***",
    secrets: [PEM_LINES[1]!, PEM_LINES[2]!],
  },
  {
    name: "metadata_proxy_shared_secret, secret = and *_secret =",
    line: "metadata_proxy_shared_secret = Wd8sKf3nQp\nsecret = Bz5yHr1mLc\nchap_secret=Ej2uVt7oXa",
    redacted: "metadata_proxy_shared_secret = ***\nsecret = ***\nchap_secret=***",
    secrets: ["Wd8sKf3nQp", "Bz5yHr1mLc", "Ej2uVt7oXa"],
  },
  {
    name: "an EC2 credential secret in JSON",
    line: '{"access": "2c45fb26257b44aab3b20e0e78964637", "secret": "9f6c5a8e1d2b4c3a"}',
    redacted: '{"access": "2c45fb26257b44aab3b20e0e78964637", "secret": "***"}',
    secrets: ["9f6c5a8e1d2b4c3a"],
  },
  {
    name: "aws_secret_access_key and other *_key secrets",
    line: `aws_secret_access_key = ${AWS_SECRET}\nmemcache_secret_key = Qm4nSx8tWz\nfixed_key = 6d1f0c2e9b8a7f6e5d4c3b2a19087f6e`,
    redacted: "aws_secret_access_key = ***\nmemcache_secret_key = ***\nfixed_key = ***",
    secrets: [AWS_SECRET, "Qm4nSx8tWz", "6d1f0c2e9b8a7f6e5d4c3b2a19087f6e"],
  },
  {
    name: "the data= of a QEMU secret object, in both command-line forms",
    line: `-object secret,id=libvirt-1-storage-secret0,data=${QEMU_DATA},keyid=masterKey0,iv=NiTD9GloeE3G64Y40Qf+lg==,format=base64 \\\n-object '{"qom-type":"secret","id":"libvirt-2-storage-secret0","data":"${QEMU_DATA}","keyid":"masterKey0","iv":"IoKiohQ0I7Lbs9Zy0zIzeg==","format":"base64"}'`,
    redacted:
      '-object secret,id=libvirt-1-storage-secret0,data=***,keyid=masterKey0,iv=NiTD9GloeE3G64Y40Qf+lg==,format=base64 \\\n-object \'{"qom-type":"secret","id":"libvirt-2-storage-secret0","data":"***","keyid":"masterKey0","iv":"IoKiohQ0I7Lbs9Zy0zIzeg==","format":"base64"}\'',
    secrets: [QEMU_DATA],
  },
  {
    name: "a noVNC console token in a query string, keeping the next parameter",
    line: 'INFO nova.console.websocketproxy [-] 10.10.52.115: "GET /vnc_auto.html?token=5d0c8e61-3f7a-4b9e-a2c4-81f6e07d93b5&title=vm1 HTTP/1.1" 200',
    redacted: 'INFO nova.console.websocketproxy [-] 10.10.52.115: "GET /vnc_auto.html?token=***&title=vm1 HTTP/1.1" 200',
    secrets: ["5d0c8e61-3f7a-4b9e-a2c4-81f6e07d93b5"],
  },
  {
    name: "an iscsiadm CHAP password",
    line: "Running cmd: iscsiadm -m node -T iqn.2010-10.org.openstack:volume-1 -p 10.0.0.7:3260 --op update -n node.session.auth.password -v Nc7hYq2Wd4",
    redacted: "Running cmd: iscsiadm -m node -T iqn.2010-10.org.openstack:volume-1 -p 10.0.0.7:3260 --op update -n node.session.auth.password -v ***",
    secrets: ["Nc7hYq2Wd4"],
  },
  {
    name: "a password element in a SOAP body",
    line: "<Login><userName>administrator@vsphere.local</userName><password>Kx5mTq9Bv3</password></Login>",
    redacted: "<Login><userName>administrator@vsphere.local</userName><password>***</password></Login>",
    secrets: ["Kx5mTq9Bv3"],
  },
];

describe("redactText masks recognised secrets", () => {
  it.each(SECRET_CASES)("masks $name", ({ line, redacted, secrets }) => {
    const out = redactText(line);
    for (const secret of secrets) expect(out).not.toContain(secret);
    expect(out).toBe(redacted);
  });

  it("is already masked when run on its own output", () => {
    for (const { redacted } of SECRET_CASES) expect(redactText(redacted)).toBe(redacted);
  });
});

describe("redactText keeps what is not a secret", () => {
  it.each([
    ["a request id and a global request id", "INFO nova.compute.manager [req-3cbaa1b2-738f-4174-8d8f-6d32f83d6182 req-db4bd5bb-49e0-415e-8564-8a4c7bdc8a91 demo demo] Took 1.02 seconds to build instance."],
    ["instance, volume and image UUIDs", "[instance: fdc62393-892e-43f4-8ecf-1da87ac21a81] Attaching volume 1a4f54e2-e71b-4863-8ab7-6e4142eaf263 from image dcd85799-92f6-4294-91ec-48670a218651"],
    ["the UUID that names a libvirt secret", "libvirt.libvirtError: Secret not found: no secret with matching uuid '457eb676-33da-42ec-9a8c-9293d545c337'"],
    ["the UUID that names a ceph secret in libvirt XML", "<secret type='ceph' uuid='514c9fca-8cbe-11e2-9c52-3bc8c7819472'/>"],
    ["rbd_secret_uuid", "rbd_secret_uuid = 457eb676-33da-42ec-9a8c-9293d545c337"],
    ["host names and IPs in an endpoint URL", "Unable to establish connection to http://controller.example.org:8774/v2.1/servers/detail and https://10.0.0.5:5000/v3"],
    ["a user but no password in a URL", "Reconnected to AMQP server on ssh://stack@10.0.0.5:22 via rabbit://nova@10.0.0.5:5672/"],
    ["MySQL's (using password: YES)", `(pymysql.err.OperationalError) (1045, "Access denied for user 'nova_cell1'@'192.168.122.100' (using password: YES)")`],
    ["MySQL's (using password: NO)", "Access denied for user 'root'@'localhost' (using password: NO)"],
    ["the words password and token in prose", "Check login credentials. Invalid token. Auth Token proceeding with requested v2.0 apis; password expired"],
    ["a function named mask_password", "File \"/usr/lib/python3/dist-packages/oslo_utils/strutils.py\", line 331, in mask_password"],
    ["a boolean password option", "inject_password = False\nauth_type = password"],
    ["an option name in a deprecation warning", 'Option "rabbit_password" from group "DEFAULT" is deprecated. Use option "rabbit_password" from group "oslo_messaging_rabbit".'],
    ["a colon after token in prose", "Failed to validate token: Unauthorized (HTTP 401)"],
    ["a keystone logger and section name", "WARNING keystone.common.password_hashing [None req-1] Truncating password to algorithm specific maximum length 72 characters.\n[keystone_authtoken]"],
    ["a password-file path", "--password-file /etc/ceph/ceph.client.cinder.keyring"],
    ["a keystoneauth token digest", 'REQ: curl -g -i -X GET http://10.0.0.5:9696/v2.0/ports -H "X-Auth-Token: {SHA256}4b1fce9f1f3c0ac1e4e3bd5d5e2a9c3c7a3a5d4f1f2e3d4c5b6a7980f1e2d3c4"'],
    ["a QEMU master-key object", "-object secret,id=masterKey0,format=raw,file=/var/lib/libvirt/qemu/domain-2-instance-00000001/master-key.aes"],
    ["a project id and a user id", "[req-e23c7f94-173b-4239-943d-f3d918ad89f2 253f4b4150a94040ac288bf8fd0dfea7 300407136d2840659371f14b92114e44] Error from last host: compute-1"],
    ["bypass and compass words", "bypass=yes compass=north"],
    ["a QEMU option naming a secret object", '-blockdev \'{"driver":"rbd","user":"nova-compute","key-secret":"libvirt-1-storage-secret0","node-name":"libvirt-1-storage"}\''],
    ["a private-key option that names where the key is", "ovsdb-server --remote=punix:/run/openvswitch/db.sock --private-key=db:Open_vSwitch,SSL,private_key"],
    ["Python source in a keystone traceback", "    token = self._validate_token(token_id)\n    self.token = self.token_provider_api.validate_token(\n    token = kwargs.get('token')"],
    ["oslo's placeholder hmac_keys default", "DEBUG oslo_service.service [-] profiler.hmac_keys             = SECRET_KEY log_opt_values /usr/lib/python3/dist-packages/oslo_config/cfg.py:2587"],
    ["ordinary log text", "2024-05-14 09:12:41.516 3127 WARNING nova.scheduler.utils Failed to compute_task_build_instances: No valid host was found."],
    ["Chinese fault text", "未针对映像 dcd85799-92f6-4294-91ec-48670a218651 授权。"],
  ])("keeps %s", (_name, line) => {
    expect(redactText(line)).toBe(line);
  });

  it.each([
    ["sosreport", "metadata_proxy_shared_secret = *********\npassword = *********\nrabbit://openstack:*********@10.0.0.5:5672/"],
    ["oslo.config", "DEBUG neutron.wsgi [-] ha_vrrp_auth_password          = **** log_opt_values /usr/lib/python3/dist-packages/oslo_config/cfg.py:2580"],
    ["strutils.mask_password", "Action: 'changePassword', body: {\"changePassword\": {\"adminPass\": \"***\"}}"],
    ["keystoneclient", 'REQ: curl -i -X GET http://10.12.27.29:35357/v3/auth/tokens -H "X-Subject-Token: TOKEN_REDACTED" -H "X-Auth-Token: TOKEN_REDACTED"'],
    ["neutronclient", '-d \'{"auth": {"tenantName": "services", "passwordCredentials": {"username": "neutron", "password": "REDACTED"}}}\''],
  ])("leaves a value %s already masked as it is", (_source, line) => {
    expect(redactText(line)).toBe(line);
  });
});

describe("redactResult", () => {
  const secretLine = "rabbit://nova:R6xckbYPMuPMko@10.0.0.5:5672/";
  const remediation = "Check transport_url = rabbit://<user>:<password>@<host>:5672/ in nova.conf.";
  const finding: Finding = {
    id: "f1",
    ruleId: "nova-amqp-unreachable",
    title: "nova cannot reach RabbitMQ",
    severity: "error",
    component: "nova-compute",
    host: "compute-1",
    path: "var/log/nova/nova-compute.log",
    line: 12,
    timestamp: "2024-05-14T09:12:41.516",
    message: `AMQP server on ${secretLine} is unreachable`,
    count: 1,
    requestIds: ["req-3cbaa1b2-738f-4174-8d8f-6d32f83d6182"],
    instanceIds: ["fdc62393-892e-43f4-8ecf-1da87ac21a81"],
    fields: { url: secretLine, password: "password=kDJ7wy3Rj9LGaZ" },
    remediation,
    references: ["https://docs.openstack.org/oslo.messaging/latest/"],
    related: [
      {
        path: "var/log/nova/nova-conductor.log",
        line: 40,
        host: "ctl-1",
        component: "nova-conductor",
        timestamp: null,
        level: "ERROR",
        message: `X-Auth-Token: ${FERNET}`,
      },
    ],
  };
  const result: ScanResult = {
    schemaVersion: 1,
    language: "en",
    summary: {
      files: 2,
      lines: 100,
      bytes: 4096,
      findings: 1,
      incidents: 1,
      bySeverity: { critical: 0, error: 1, warning: 0, info: 0 },
      skipped: [{ path: "var/log/creds/password=Ty6bN3Wc.log", reason: `cannot open ${secretLine}` }],
      truncatedLines: 0,
      suppressed: 0,
    },
    findings: [finding],
    incidents: [
      {
        id: "i1",
        requestIds: ["req-3cbaa1b2-738f-4174-8d8f-6d32f83d6182"],
        instanceIds: [],
        findings: ["f1"],
        rootCause: "f1",
        summary: `nova-compute lost ${secretLine}`,
      },
    ],
  };

  it("masks messages, field values, related lines, incident summaries and skipped inputs", () => {
    const out = redactResult(result);
    const json = JSON.stringify(out);
    for (const secret of ["R6xckbYPMuPMko", "kDJ7wy3Rj9LGaZ", FERNET, "Ty6bN3Wc"]) expect(json).not.toContain(secret);
    const [f] = out.findings;
    expect(f?.message).toBe("AMQP server on rabbit://nova:***@10.0.0.5:5672/ is unreachable");
    expect(f?.fields).toEqual({ url: "rabbit://nova:***@10.0.0.5:5672/", password: "password=***" });
    expect(f?.related[0]?.message).toBe(`X-Auth-Token: ${MASK}`);
    expect(out.incidents[0]?.summary).toBe("nova-compute lost rabbit://nova:***@10.0.0.5:5672/");
    expect(out.summary.skipped).toEqual([
      { path: "var/log/creds/password=***", reason: "cannot open rabbit://nova:***@10.0.0.5:5672/" },
    ]);
  });

  it("keeps ids, counts, hosts and the static remediation", () => {
    const out = redactResult(result);
    const [f] = out.findings;
    expect(f?.remediation).toBe(remediation);
    expect(f?.requestIds).toEqual(finding.requestIds);
    expect(f?.instanceIds).toEqual(finding.instanceIds);
    expect(f?.host).toBe("compute-1");
    expect(out.summary.bySeverity).toEqual(result.summary.bySeverity);
    expect(out.incidents[0]?.findings).toEqual(["f1"]);
  });

  it("does not change the result it was given", () => {
    const before = structuredClone(result);
    redactResult(result);
    expect(result).toEqual(before);
  });
});

describe("redactText properties", () => {
  const secretFragments = [
    ...SECRET_CASES.map((c) => c.line),
    "password=",
    "password = ",
    '"password": "',
    "'password': '",
    "--os-password ",
    "IDENTIFIED BY '",
    "X-Auth-Token: ",
    "Authorization: Basic ",
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----END RSA PRIVATE KEY-----",
    "rabbit://nova:",
    "@10.0.0.5:5672/",
    "://",
    FERNET,
    PKI,
    CEPH_KEY,
    JWT,
    MASK,
    "*********",
    "(using password: YES)",
    "req-3cbaa1b2-738f-4174-8d8f-6d32f83d6182",
  ];
  const glue = fc.constantFrom(" ", "\n", "\t", "=", ":", ",", "'", '"', "\\", "\\\"", "@", "/", "(", ")", "{", "}", "-", "*", "");
  const built = fc
    .array(fc.oneof(fc.constantFrom(...secretFragments), glue, fc.string({ maxLength: 8 })), { maxLength: 24 })
    .map((parts) => parts.join(""));
  const arbitrary = fc.oneof(fc.string({ maxLength: 400 }), fc.string({ unit: "binary", maxLength: 400 }));

  it("never throws and is idempotent on arbitrary strings", () => {
    fc.assert(
      fc.property(arbitrary, (text) => {
        const once = redactText(text);
        expect(redactText(once)).toBe(once);
      }),
      { numRuns: 2000 },
    );
  });

  it("never throws and is idempotent on strings built from secret shapes", () => {
    fc.assert(
      fc.property(built, (text) => {
        const once = redactText(text);
        expect(redactText(once)).toBe(once);
      }),
      { numRuns: 5000 },
    );
  });

  it("masks a known secret wherever a line of prose puts it", () => {
    const prose = fc.string({ unit: fc.constantFrom(..."abcXYZ019 .:_-[]"), maxLength: 40 });
    fc.assert(
      fc.property(prose, fc.constantFrom(...SECRET_CASES), prose, (before, sample, after) => {
        const out = redactText(`${before} ${sample.line} ${after}`);
        for (const secret of sample.secrets) expect(out).not.toContain(secret);
      }),
      { numRuns: 2000 },
    );
  });
});
