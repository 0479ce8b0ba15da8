// Docker Engine timestamps: RFC 3339 with nanoseconds, and Docker's zero time.

const RFC3339 = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/;

/** Epoch ms of an engine timestamp (nanosecond RFC 3339); undefined for Docker's zero time or junk. */
export function parseEngineTime(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const m = RFC3339.exec(text);
  if (!m || Number(m[1]) < 1970) return undefined;
  const [, y, mo, d, h, mi, s, frac = '', zone] = m;
  const ms = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}.${frac.padEnd(3, '0').slice(0, 3)}${zone}`);
  return Number.isNaN(ms) ? undefined : ms;
}
