// POSIX shell quoting for the scripts the launcher runs on a host (here through sh, remote over ssh).

/** POSIX shell single-quoting: plain words stay as they are. */
export const shq = (s: string): string =>
  /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
