import { createHash, randomBytes } from 'node:crypto';
import { LiveError } from './live-error.js';
import { printable } from './rtsp-message.js';

export interface Credentials {
  user: string;
  password: string;
}

export interface Challenge {
  scheme: 'basic' | 'digest';
  params: Record<string, string>;
}

/** The challenges of WWW-Authenticate headers (RFC 2617 syntax), Digest first; unknown schemes are skipped. */
export function parseChallenges(values: readonly string[]): Challenge[] {
  const out: Challenge[] = [];
  for (const value of values) {
    const m = /^\s*(\w+)\s*(.*)$/s.exec(value);
    if (!m) continue;
    const scheme = m[1]!.toLowerCase();
    if (scheme !== 'basic' && scheme !== 'digest') continue;
    const params: Record<string, string> = {};
    const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
    for (let p = re.exec(m[2]!); p; p = re.exec(m[2]!)) params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
    out.push({ scheme, params });
  }
  return out.sort((a, b) => (a.scheme === b.scheme ? 0 : a.scheme === 'digest' ? -1 : 1));
}

/** Answers challenges with credentials: one Authorization header value per request (Digest counts its nonce uses). */
export class Authenticator {
  private nonceCount = 0;
  constructor(
    private readonly credentials: Credentials,
    private readonly challenge: Challenge,
    /** Makes the client nonce (tests give a fixed one). */
    private readonly cnonce: () => string = () => randomBytes(8).toString('hex'),
  ) {
    if (challenge.scheme === 'digest') {
      const { realm, nonce, algorithm } = challenge.params;
      if (realm === undefined || nonce === undefined) throw new LiveError('ERR_LIVE_PROTOCOL', 'Digest challenge without realm or nonce');
      if (algorithm && algorithm.toUpperCase() !== 'MD5') throw new LiveError('ERR_LIVE_AUTH', `Digest algorithm '${printable(algorithm)}' is not supported (MD5 only)`);
    }
  }

  header(method: string, uri: string): string {
    const { user, password } = this.credentials;
    if (this.challenge.scheme === 'basic') return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    const { realm = '', nonce = '', qop, opaque } = this.challenge.params;
    const ha1 = md5(`${user}:${realm}:${password}`);
    const ha2 = md5(`${method}:${uri}`);
    const parts = [`username="${quote(user)}"`, `realm="${quote(realm)}"`, `nonce="${quote(nonce)}"`, `uri="${quote(uri)}"`];
    const wantsAuth = qop?.split(',').some((q) => q.trim() === 'auth');
    if (wantsAuth) {
      const nc = (++this.nonceCount).toString(16).padStart(8, '0');
      const cnonce = this.cnonce();
      parts.push(`qop=auth`, `nc=${nc}`, `cnonce="${cnonce}"`, `response="${md5(`${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`)}"`);
    } else parts.push(`response="${md5(`${ha1}:${nonce}:${ha2}`)}"`);
    if (opaque !== undefined) parts.push(`opaque="${quote(opaque)}"`);
    return `Digest ${parts.join(', ')}`;
  }
}

const md5 = (text: string): string => createHash('md5').update(text).digest('hex');
const quote = (text: string): string => text.replace(/["\\]/g, '\\$&');
