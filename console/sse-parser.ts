/**
 * Server-Sent Events framing (WHATWG HTML §9.2.6, the parts the node uses): the browser's
 * EventSource cannot send the Authorization header the API needs, so the console reads
 * GET /v1/events with fetch and feeds the text here. Pure; loaded by the browser as is.
 */
export interface SseEvent {
  type: string;
  id?: string;
  data: string;
}

export class SseParser {
  private buf = '';
  /** Comments seen (the stream's first one names the ruleset generation it starts after). */
  readonly comments: string[] = [];

  /** Feeds decoded text; returns the events it completed. */
  push(text: string): SseEvent[] {
    this.buf += text.replace(/\r\n?/g, '\n');
    const out: SseEvent[] = [];
    let i: number;
    while ((i = this.buf.indexOf('\n\n')) >= 0) {
      const block = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 2);
      let type = 'message';
      let id: string | undefined;
      const data: string[] = [];
      let any = false;
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) {
          if (this.comments.length < 16) this.comments.push(line.slice(1).trim());
          continue;
        }
        const c = line.indexOf(':');
        const field = c < 0 ? line : line.slice(0, c);
        const value = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
        if (field === 'event') type = value;
        else if (field === 'data') data.push(value);
        else if (field === 'id') id = value;
        else continue;
        any = true;
      }
      if (any && data.length > 0) out.push({ type, ...(id !== undefined ? { id } : {}), data: data.join('\n') });
    }
    return out;
  }
}
