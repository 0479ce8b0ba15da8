// Credentials embedded in a remote URL never reach a log line, the status
// file or an error message: `https://user:pass@host/x` → `https://***@host/x`.

const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^/@\s'"]+@/gi;

export function redactUrl(text: string): string {
  return text.replace(USERINFO, '$1***@');
}
