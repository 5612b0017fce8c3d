/**
 * Access off loopback: a token on every HTTP and WebSocket request (the page included), compared in
 * constant time. On 127.0.0.1 / ::1 no token is needed unless one is given.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const TOKEN_COOKIE = 'valkka_token';

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** A fresh random token (printed as part of the URL to open). */
export function newToken(): string {
  return randomBytes(18).toString('base64url');
}

export class TokenCheck {
  private readonly digest: Buffer;

  constructor(token: string) {
    this.digest = sha256(token);
  }

  /**
   * True when the request carries the token: ?token=, "Authorization: Bearer", or the cookie the page set; with
   * `bearerOnly` (node-to-node tokens) only the header counts, so the token never sits in a URL.
   */
  accepts(req: IncomingMessage, bearerOnly = false): boolean {
    const given = bearerOnly ? bearerOf(req) : tokenOf(req);
    // Digests have one length, so timingSafeEqual never sees different sizes and the compare takes constant time.
    return given !== undefined && timingSafeEqual(sha256(given), this.digest);
  }
}

function bearerOf(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  return auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
}

function tokenOf(req: IncomingMessage): string | undefined {
  const url = new URL(req.url ?? '/', 'http://x');
  const query = url.searchParams.get('token');
  if (query) return query;
  const bearer = bearerOf(req);
  if (bearer !== undefined) return bearer;
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === TOKEN_COOKIE) return decodeURIComponent(value.join('='));
  }
  return undefined;
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
