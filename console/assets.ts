/**
 * The console's files, served by the node on its API listeners: GET / is the page,
 * /console/<name> its scripts, styles and the browser libraries. Only the files named in
 * ASSETS are served: the URL is a key into a fixed table, never a path joined onto a
 * directory, so no request can reach another file (no traversal to defend against).
 *
 * Headers: a Content-Security-Policy that allows scripts and styles from this origin only
 * (no inline script but the import map, pinned by its hash; no CDN), no framing, no
 * referrer; `cache-control: no-cache` with an ETag, so a browser revalidates (304) and an
 * upgraded node's console is never mixed with a cached older one.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the console's own compiled modules are (dist/console/), and the package root. */
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = (() => {
  let dir = HERE;
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
})();

type Base = 'web' | 'lib' | 'modules';
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/** URL path under /console/ -> where the file lives. */
export const ASSETS: Readonly<Record<string, { base: Base; file: string }>> = {
  'index.html': { base: 'web', file: 'index.html' },
  'style.css': { base: 'web', file: 'style.css' },
  'app.js': { base: 'web', file: 'app.js' },
  'api.js': { base: 'web', file: 'api.js' },
  'ui.js': { base: 'web', file: 'ui.js' },
  'overview.js': { base: 'web', file: 'overview.js' },
  'charts.js': { base: 'web', file: 'charts.js' },
  'ruleset.js': { base: 'web', file: 'ruleset.js' },
  'builder.js': { base: 'web', file: 'builder.js' },
  'connections.js': { base: 'web', file: 'connections.js' },
  'drills.js': { base: 'web', file: 'drills.js' },
  'events.js': { base: 'web', file: 'events.js' },
  'lib/forms.js': { base: 'lib', file: 'forms.js' },
  'lib/sse-parser.js': { base: 'lib', file: 'sse-parser.js' },
  'lib/rates.js': { base: 'lib', file: 'rates.js' },
  'vendor/preact.mjs': { base: 'modules', file: 'preact/dist/preact.mjs' },
  'vendor/hooks.mjs': { base: 'modules', file: 'preact/hooks/dist/hooks.mjs' },
  'vendor/htm.mjs': { base: 'modules', file: 'htm/dist/htm.mjs' },
  'vendor/uplot.mjs': { base: 'modules', file: 'uplot/dist/uPlot.esm.js' },
  'vendor/uplot.css': { base: 'modules', file: 'uplot/dist/uPlot.min.css' },
};

function fsPath(a: { base: Base; file: string }): string {
  if (a.base === 'web') return path.join(ROOT, 'console', 'web', a.file);
  if (a.base === 'lib') return path.join(HERE, a.file);
  return path.join(ROOT, 'node_modules', a.file);
}

export interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** The page's one inline script is its import map: the CSP allows exactly that text. */
function importMapHash(html: string): string | undefined {
  const m = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html);
  return m ? `'sha256-${createHash('sha256').update(m[1]!).digest('base64')}'` : undefined;
}

/** Reads the console's files once, on first use. */
export class ConsoleAssets {
  private cache = new Map<string, Asset>();
  private csp?: string;

  /** undefined: not a console file. Throws when a listed file is missing from the install. */
  get(name: string): Asset | undefined {
    if (!Object.hasOwn(ASSETS, name)) return undefined;
    let a = this.cache.get(name);
    if (!a) {
      const spec = ASSETS[name]!;
      const body = readFileSync(fsPath(spec));
      a = { body, type: TYPES[path.extname(spec.file)] ?? 'application/octet-stream', etag: `"${createHash('sha1').update(body).digest('base64url')}"` };
      this.cache.set(name, a);
    }
    return a;
  }

  contentSecurityPolicy(): string {
    if (this.csp === undefined) {
      const hash = importMapHash(this.get('index.html')!.body.toString('utf8'));
      this.csp = [
        "default-src 'none'",
        `script-src 'self'${hash ? ` ${hash}` : ''}`,
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
      ].join('; ');
    }
    return this.csp;
  }
}

/** Where the files are looked for (for the error a missing install gets). */
export function assetPath(name: string): string | undefined {
  return Object.hasOwn(ASSETS, name) ? fsPath(ASSETS[name]!) : undefined;
}
