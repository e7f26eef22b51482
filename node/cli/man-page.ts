/**
 * man(7) pages from the commands' --help texts, so the two cannot disagree: the package
 * build (scripts/package-deb.mjs) runs each `hafw <command> --help` of the tree it ships
 * and turns the text into roff. The help texts follow one shape: "usage: ..." lines,
 * prose paragraphs, and indented blocks (options, subcommands) whose columns matter;
 * prose is filled, indented blocks are kept as they are.
 */

export interface ManSection {
  /** A heading inside the page (a subcommand: "hafw ruleset check"). */
  title: string;
  help: string;
}

export interface ManPage {
  /** Page name: "hafw" or "hafw-node". */
  name: string;
  section: number;
  /** One line for NAME (what `hafw --help` says of the command). */
  summary: string;
  help: string;
  /** More sections after the main text, e.g. each subcommand's own --help. */
  subsections?: ManSection[];
  version: string;
  /** YYYY-MM-DD; fixed by the caller so the same tree gives the same page. */
  date: string;
  seeAlso?: string[];
}

/** Text as roff: backslashes and a leading dot or quote escaped, '-' as a real minus (options copy and paste). */
export function roffText(s: string): string {
  const t = s.replace(/\\/g, '\\e').replace(/-/g, '\\-');
  return /^[.']/.test(t) ? `\\&${t}` : t;
}

function quoted(s: string): string {
  return `"${s.replace(/\\/g, '\\e').replace(/"/g, '\\(dq')}"`;
}

/** Splits a help text into its usage lines and the rest. */
export function splitUsage(help: string): { usage: string[]; body: string[] } {
  const lines = help.replace(/\s+$/, '').split('\n');
  const usage: string[] = [];
  let i = 0;
  if (lines[0]?.startsWith('usage: ')) {
    usage.push(lines[0].slice('usage: '.length));
    i = 1;
    // Continuation lines: more forms of the same command ("       hafw --version").
    while (i < lines.length && /^\s+hafw\b/.test(lines[i]!)) usage.push(lines[i++]!.trim());
  }
  return { usage, body: lines.slice(i) };
}

/** The body: blank-line separated paragraphs; a run of indented lines is a literal block. */
function bodyRoff(lines: string[]): string[] {
  const out: string[] = [];
  let prose: string[] = [];
  let literal: string[] = [];
  const flushProse = (): void => {
    if (prose.length) out.push('.PP', ...prose.map(roffText));
    prose = [];
  };
  const flushLiteral = (): void => {
    if (literal.length) out.push('.PP', '.RS 2', '.nf', ...literal.map(roffText), '.fi', '.RE');
    literal = [];
  };
  for (const line of lines) {
    if (line.trim() === '') {
      flushProse();
      flushLiteral();
    } else if (/^\s/.test(line)) {
      flushProse();
      literal.push(line.replace(/^ {2}/, ''));
    } else {
      flushLiteral();
      prose.push(line);
    }
  }
  flushProse();
  flushLiteral();
  return out;
}

export function manPage(p: ManPage): string {
  const { usage, body } = splitUsage(p.help);
  const out = [
    `.\\" Generated from '${p.name.replace('-', ' ')} --help' by node/cli/man-page.ts. Do not edit.`,
    `.TH ${quoted(p.name.toUpperCase())} ${p.section} ${quoted(p.date)} ${quoted(`hafw ${p.version}`)} ${quoted('hafw manual')}`,
    // No hyphenation, ragged right: option names and paths must not be split.
    '.nh',
    '.ad l',
    '.SH NAME',
    `${roffText(p.name)} \\- ${roffText(p.summary)}`,
  ];
  if (usage.length) out.push('.SH SYNOPSIS', '.nf', ...usage.map(roffText), '.fi');
  out.push('.SH DESCRIPTION', ...bodyRoff(body));
  for (const s of p.subsections ?? []) {
    const sub = splitUsage(s.help);
    out.push(`.SS ${quoted(s.title)}`, ...(sub.usage.length ? ['.nf', ...sub.usage.map(roffText), '.fi'] : []), ...bodyRoff(sub.body));
  }
  if (p.seeAlso?.length) out.push('.SH SEE ALSO', p.seeAlso.map((x) => roffText(x).replace(/\((\d)\)$/, '($1)')).join(', '));
  return `${out.join('\n')}\n`;
}

/** "  name   summary" rows of a "commands:" or "subcommands:" block in a help text. */
export function listedCommands(help: string, heading: 'commands:' | 'subcommands:'): { name: string; summary: string }[] {
  const lines = help.split('\n');
  const at = lines.findIndex((l) => l.trim() === heading);
  if (at < 0) return [];
  const out: { name: string; summary: string }[] = [];
  for (const l of lines.slice(at + 1)) {
    const m = /^ {2}(\S+)\s{2,}(.*)$/.exec(l);
    if (!m) break;
    out.push({ name: m[1]!, summary: m[2]!.trim() });
  }
  return out;
}
