/**
 * JSON.parse with positions: a small RFC 8259 parser that records the line:col of every
 * object and array (errors.ts setPos), so an error in a JSON ruleset points at the
 * statement in the file like one in a text ruleset does.
 */
import { RulesetError, setPos } from './errors.js';

export function parseJsonWithPositions(text: string, file = '<input>'): unknown {
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const err = (msg: string): never => {
    throw RulesetError.at(file, { line, col: i - lineStart + 1 }, msg);
  };
  const ws = (): void => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 10) {
        i++;
        line++;
        lineStart = i;
      } else if (c === 32 || c === 9 || c === 13) i++;
      else return;
    }
  };
  const value = (): unknown => {
    ws();
    const pos = { line, col: i - lineStart + 1 };
    const c = text[i];
    if (c === '{') {
      i++;
      const o: Record<string, unknown> = {};
      ws();
      if (text[i] === '}') {
        i++;
        return setPos(o, pos);
      }
      for (;;) {
        ws();
        if (text[i] !== '"') err('expected a string key');
        const k = str();
        ws();
        if (text[i] !== ':') err("expected ':'");
        i++;
        o[k] = value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return setPos(o, pos);
        }
        err("expected ',' or '}'");
      }
    }
    if (c === '[') {
      i++;
      const a: unknown[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return setPos(a, pos);
      }
      for (;;) {
        a.push(value());
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return setPos(a, pos);
        }
        err("expected ',' or ']'");
      }
    }
    if (c === '"') return str();
    const m = /^(-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 40));
    if (!m) return err(i >= text.length ? 'unexpected end of input' : `unexpected '${c}'`);
    i += m[0].length;
    return m[0] === 'true' ? true : m[0] === 'false' ? false : m[0] === 'null' ? null : Number(m[0]);
  };
  const str = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') i++;
      if (text[i] === '\n') err('newline in string');
      i++;
    }
    if (i >= text.length) err('unterminated string');
    i++;
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      // A bad escape or a raw control character: JSON.parse's own error has no line.
      i = start;
      return err('invalid string: a bad escape (\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX) or a control character');
    }
  };
  const v = value();
  ws();
  if (i < text.length) err('unexpected text after the JSON value');
  return v;
}
