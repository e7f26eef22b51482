/**
 * One wording for a file the CLI cannot read, whichever command reads it:
 * "FILE: no such file" rather than Node's "ENOENT: no such file or directory, open 'FILE'".
 */
export function fileProblem(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'ENOENT': return 'no such file';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'EISDIR': return 'is a directory, not a file';
    case 'ENOTDIR': return 'a part of the path is not a directory';
    default: return e.message;
  }
}

/** An Error naming the file and what is wrong with it. */
export function fileError(file: string, err: unknown): Error {
  return new Error(`${file}: ${fileProblem(err)}`);
}
