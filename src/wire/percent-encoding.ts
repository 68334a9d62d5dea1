/**
 * Text in a metadata value corral writes itself (grpc-message, a token's claims, a client
 * certificate's subject, a path variable): printable ASCII but '%' as it is, every other
 * byte of its UTF-8 as %XX. This is gRPC's encoding of grpc-message (PROTOCOL-HTTP2.md,
 * "Responses"), and it is lossless: percent-decoding gives the text back. node:http2
 * writes a header value as latin1, keeping the low byte of each character, so text
 * written unencoded would reach the peer as other text ('šdmin' as 'admin').
 */
export function percentEncoded(text: string): string {
  let plain = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return text;
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += byte < 0x20 || byte > 0x7e || byte === 0x25 ? '%' + byte.toString(16).toUpperCase().padStart(2, '0') : String.fromCharCode(byte);
  }
  return out;
}

/** Text from a percent-encoded value; kept as sent when it does not decode. */
export function percentDecoded(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
