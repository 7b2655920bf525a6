// Certificates made in the test: self-signed, CA-issued, with any validity window.
import "reflect-metadata";

import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto);

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

export interface Authority {
  cert: x509.X509Certificate;
  keys: webcrypto.CryptoKeyPair;
}

const DAY = 86_400_000;

export async function makeAuthority(name = "Test CA"): Promise<Authority> {
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: `CN=${name}`,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 3650 * DAY),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
  });
  return { cert, keys };
}

export interface CertificateOptions {
  domain: string;
  /** Days from now; negative for the past. */
  notBeforeDays?: number;
  notAfterDays: number;
  issuer?: Authority;
  /** IP addresses the certificate is also for (for a server reached as https://127.0.0.1:port). */
  ips?: string[];
}

/** A PEM certificate (and its key) for `domain`, self-signed unless an issuer is given. */
export async function makeCertificate(options: CertificateOptions): Promise<{ pem: string; keyPem: string }> {
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]);
  const common = {
    serialNumber: Date.now().toString(16),
    notBefore: new Date(Date.now() + (options.notBeforeDays ?? -1) * DAY),
    notAfter: new Date(Date.now() + options.notAfterDays * DAY),
    signingAlgorithm: ALGORITHM,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: "dns", value: options.domain }, ...(options.ips ?? []).map((value) => ({ type: "ip" as const, value }))])],
  };
  const cert = options.issuer
    ? await x509.X509CertificateGenerator.create({
        ...common,
        subject: `CN=${options.domain}`,
        issuer: options.issuer.cert.subject,
        publicKey: keys.publicKey,
        signingKey: options.issuer.keys.privateKey,
      })
    : await x509.X509CertificateGenerator.createSelfSigned({ ...common, name: `CN=${options.domain}`, keys });
  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey);
  const keyPem = x509.PemConverter.encode(pkcs8, "PRIVATE KEY");
  return { pem: cert.toString("pem"), keyPem };
}
