/**
 * Admin HTTP security (SPEC §7): who may read, and what may change state.
 *
 * - Host check (DNS rebinding): a request names the admin by an IP literal, `localhost` or
 *   one of `admin.allowedHosts`; a page on evil.example that rebinds its name to 127.0.0.1
 *   is answered 421. /healthz is exempt (probes use whatever name they like).
 * - Token (when set): the bearer header (Prometheus, scripts) or the session cookie that
 *   the sign-in sets (browsers: HttpOnly, SameSite=Strict). Never in a URL.
 * - State-changing requests (anything but GET/HEAD/OPTIONS): same-origin only (Origin, and
 *   Sec-Fetch-Site when a browser sends it, against Host) and, with a body, JSON only — a
 *   cross-site form or a `text/plain` fetch cannot trigger a rollback, even on loopback.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { NextFunction, Request, Response } from 'express';

export const SESSION_COOKIE = 'sy_admin';
/** A sign-in lasts this long (seconds). */
export const SESSION_SECONDS = 12 * 3600;

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Whether an admin listen host is loopback (no token needed there). */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\./.test(h) || /^::ffff:127\./.test(h);
}

/** The refusal when an admin would listen off loopback without a token (every listen address). */
export function adminListenProblem(listen: string, host: string, hasToken: boolean, flag?: string): string | undefined {
  if (hasToken || isLoopbackHost(host)) return undefined;
  return `admin.tokenEnv: required when the admin listens on ${listen}${flag ? ` (${flag})` : ''}, which is not a loopback address`;
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Cookie value `expiry.mac`: the token itself never leaves the server. */
export function sessionValue(token: string, expiresAt: number): string {
  const mac = createHmac('sha256', token).update(`switchyard-admin:${expiresAt}`).digest('base64url');
  return `${expiresAt}.${mac}`;
}

function sessionOk(token: string, value: string, now: number): boolean {
  const [exp = '', mac = ''] = value.split('.');
  const expiresAt = Number(exp);
  if (!Number.isSafeInteger(expiresAt) || expiresAt < now) return false;
  return equal(`${exp}.${mac}`, sessionValue(token, expiresAt));
}

function cookie(req: Request, name: string): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function authorized(token: string, req: Request, now = Math.floor(Date.now() / 1000)): boolean {
  const bearer = /^Bearer (.+)$/.exec(req.get('authorization') ?? '')?.[1];
  if (bearer !== undefined) return equal(bearer, token);
  const session = cookie(req, SESSION_COOKIE);
  return session !== undefined && sessionOk(token, session, now);
}

export function sessionCookieHeader(token: string, secure: boolean, now = Math.floor(Date.now() / 1000)): string {
  const value = sessionValue(token, now + SESSION_SECONDS);
  return `${SESSION_COOKIE}=${value}; Path=/; Max-Age=${SESSION_SECONDS}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

export const clearedCookieHeader = `${SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict`;

function hostName(hostHeader: string): string {
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(hostHeader) ?? /^([^:]+)(?::\d+)?$/.exec(hostHeader);
  return (m?.[1] ?? hostHeader).toLowerCase().replace(/\.$/, '');
}

/** DNS rebinding: the Host header must be an address or a name the operator listed. */
export function hostCheck(allowedHosts: readonly string[]) {
  const allowed = new Set(['localhost', ...allowedHosts.map((h) => h.toLowerCase())]);
  return (req: Request, res: Response, next: NextFunction): void => {
    const name = hostName(req.get('host') ?? '');
    if (isIP(name) !== 0 || allowed.has(name)) return next();
    res.status(421).json({ error: `host ${name || '(none)'} is not this admin's (admin.allowedHosts)` });
  };
}

/** Same-origin and JSON for every state-changing request. */
export function stateChangeGuard(req: Request, res: Response, next: NextFunction): void {
  if (SAFE_METHODS.has(req.method)) return next();
  const origin = req.get('origin');
  const host = req.get('host') ?? '';
  if (origin !== undefined && origin !== `http://${host}` && origin !== `https://${host}`) {
    res.status(403).json({ error: 'cross-origin request refused' });
    return;
  }
  const site = req.get('sec-fetch-site');
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    res.status(403).json({ error: 'cross-site request refused' });
    return;
  }
  const hasBody = Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
  if ((hasBody || req.path.startsWith('/api/')) && !req.is('application/json')) {
    res.status(415).json({ error: 'a JSON body (content-type: application/json) is required' });
    return;
  }
  next();
}

/** Browsers asking for a page are sent to the sign-in; everything else gets 401. */
export function tokenGuard(token: string) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (authorized(token, req)) return next();
    if (req.method === 'GET' && req.accepts(['json', 'html']) === 'html') {
      res.redirect(303, '/signin');
      return;
    }
    res
      .status(401)
      .set('www-authenticate', 'Bearer realm="switchyard"')
      .json({ error: 'sign in, or send the bearer token (admin.tokenEnv) in the Authorization header' });
  };
}

export function signIn(token: string) {
  return (req: Request, res: Response): void => {
    const given = (req.body as { token?: unknown } | undefined)?.token;
    if (typeof given !== 'string' || !equal(given, token)) {
      res.status(401).json({ error: 'wrong token' });
      return;
    }
    res.set('set-cookie', sessionCookieHeader(token, req.secure)).json({ ok: true });
  };
}
