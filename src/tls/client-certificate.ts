import { X509Certificate, createHash } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { FLEET_HOP } from '../call/fleet-hop.js';
import { createRequire } from 'node:module';
import { percentEncoded } from '../wire/percent-encoding.js';

/**
 * The metadata through which corral tells the backend who the client is, in Envoy's
 * format. corral owns it: whatever a client sends under this name is dropped at the front.
 * It is part of every collapse key (identity first): two clients with different
 * certificates never share an answer.
 */
export const CLIENT_CERT_HEADER = 'x-forwarded-client-cert';

/** What a verified client certificate says of its client. */
export interface ClientCertificate {
  /** Its SPIFFE ID: the certificate's one URI SAN when it is a spiffe:// URI (SPIFFE allows exactly one); else null. */
  spiffeId: string | null;
  /** The subject, RFC 2253 style (`CN=a,O=b`). */
  subject: string;
  /** The x-forwarded-client-cert value: `By=...;Hash=...;Subject="...";URI=...`. */
  header: string;
}

// The certificate is parsed with PeculiarVentures' ASN.1 schemas, loaded on the first client
// certificate: node offers the SANs only as one string, which is not to be split
// (CVE-2021-44532: a crafted SAN value containing ", URI:" would pass for two entries).
const require = createRequire(import.meta.url);
let asn: { schema: typeof import('@peculiar/asn1-schema'); x509: typeof import('@peculiar/asn1-x509') } | null = null;

/** The certificate's URI SANs, in order, parsed from its DER encoding. */
export function uriSans(der: Buffer): string[] {
  asn ??= { schema: require('@peculiar/asn1-schema'), x509: require('@peculiar/asn1-x509') };
  const { AsnConvert } = asn.schema;
  const { Certificate, SubjectAlternativeName, id_ce_subjectAltName } = asn.x509;
  const cert = AsnConvert.parse(der, Certificate);
  const ext = cert.tbsCertificate.extensions?.find((e) => e.extnID === id_ce_subjectAltName);
  if (ext === undefined) return [];
  const names = AsnConvert.parse(ext.extnValue.buffer, SubjectAlternativeName);
  const uris: string[] = [];
  for (const name of names) if (name.uniformResourceIdentifier !== undefined) uris.push(name.uniformResourceIdentifier);
  return uris;
}

/** The SPIFFE ID of a certificate (its one URI SAN, when spiffe://), or null. */
export function spiffeIdOf(cert: X509Certificate): string | null {
  const uris = uriSans(cert.raw);
  return uris.length === 1 && uris[0]!.startsWith('spiffe://') ? uris[0]! : null;
}

/**
 * What corral forwards about a client certificate that verified. `by`: corral's own
 * SPIFFE ID (from its server certificate), named as Envoy's By field, when it has one.
 */
export function clientCertificate(cert: X509Certificate, by: string | null): ClientCertificate {
  const spiffeId = spiffeIdOf(cert);
  const subject = cert.subject.split('\n').join(',');
  const fields: string[] = [];
  if (by !== null) fields.push(`By=${value(by)}`);
  fields.push(`Hash=${createHash('sha256').update(cert.raw).digest('hex')}`);
  fields.push(`Subject="${escape(subject)}"`);
  if (spiffeId !== null) fields.push(`URI=${value(spiffeId)}`);
  // A subject may hold any Unicode: percent-encoded, so the backend reads what the certificate says.
  return { spiffeId, subject, header: percentEncoded(fields.join(';')) };
}

/** A field value, quoted (Envoy's rule) when it holds a separator. */
function value(text: string): string {
  return /[,;="]/.test(text) ? `"${escape(text)}"` : escape(text);
}

/** Escapes quotes and backslashes, and any control character, which no header value may hold. */
function escape(text: string): string {
  return text.replace(/["\\]/g, '\\$&').replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * The verified client certificate of each TLS connection, read once per connection (a
 * connection carries many calls) and forgotten with it.
 */
export class ClientIdentities {
  private readonly bySocket = new WeakMap<object, ClientCertificate | null>();

  /**
   * With the fleet on: the SPIFFE ID of its sidecars (COLLAPSER_FLEET_PEER_ID). A call marked as
   * forwarded by a peer over a connection with that identity keeps the original client's
   * x-forwarded-client-cert, which the peer's front set.
   */
  fleetPeer: string | null = null;

  constructor(
    /** corral's own SPIFFE ID (the By field); replaced when its certificate is. */
    public by: string | null,
  ) {}

  /** The client certificate of a connection; null when it sent none. */
  of(socket: { getPeerX509Certificate(): X509Certificate | undefined }): ClientCertificate | null {
    let known = this.bySocket.get(socket);
    if (known === undefined) {
      const peer = socket.getPeerX509Certificate();
      known = peer === undefined ? null : clientCertificate(peer, this.by);
      this.bySocket.set(socket, known);
    }
    return known;
  }

  /** Sets the call's x-forwarded-client-cert from its connection, replacing whatever the client sent. */
  apply(headers: Record<string, string | string[] | undefined>, socket: { getPeerX509Certificate(): X509Certificate | undefined }): void {
    const client = this.of(socket);
    if (headers[FLEET_HOP] !== undefined) {
      if (client !== null && this.fleetPeer !== null && client.spiffeId === this.fleetPeer) return;
      // Not a peer of the fleet: its mark is ignored and its call served as any other.
      delete headers[FLEET_HOP];
    }
    if (client === null) delete headers[CLIENT_CERT_HEADER];
    else headers[CLIENT_CERT_HEADER] = client.header;
  }
}

/**
 * A TLS client's check of a fleet peer's certificate, in place of the host name check:
 * sidecars are dialled at pod addresses their certificates do not name, and what makes a
 * peer is its SPIFFE ID, which must be `id` (COLLAPSER_FLEET_PEER_ID).
 */
export function samePeerIdentity(id: string): (host: string, cert: PeerCertificate) => Error | undefined {
  return (host, cert) => {
    const peer = spiffeIdOf(new X509Certificate(cert.raw));
    return peer === id ? undefined : new Error(`fleet peer ${host} presented ${peer ?? 'no SPIFFE ID'}, not ${id}: not a sidecar of this fleet`);
  };
}
