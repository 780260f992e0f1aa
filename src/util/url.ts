// URLs as sanshift may print them. Pure.

/** The URL as it may be printed: without a user or password. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username === '' && u.password === '') return url;
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(an unparsable URL)';
  }
}
