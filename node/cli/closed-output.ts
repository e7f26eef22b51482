/**
 * `hafw replay ... | head`: when the reader of our output goes away, writing to the pipe
 * fails with EPIPE. Node ignores SIGPIPE, so instead of dying quietly as a Unix filter does
 * the error surfaced as an unhandled 'error' event with a stack trace. Every command stops
 * here, quietly and with status 0: the reader asked for no more, nothing went wrong.
 */
export function exitQuietlyOnClosedOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
      throw err;
    });
  }
}
