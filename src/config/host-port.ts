/** `host[:port]`, `[ip]:port` and `[ipv6]:port` as written in the configuration. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export function splitHostPort(text: string, defaultPort: number): HostPort {
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(text);
  return { host: (m?.[1] ?? text).toLowerCase(), port: m?.[2] ? Number(m[2]) : defaultPort };
}
