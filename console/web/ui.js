// Shared view helpers: htm bound to preact, small components.
import { h } from 'preact';
import htm from 'htm';

export const html = htm.bind(h);

export function Badge({ kind, children }) {
  return html`<span class=${`badge ${kind ?? ''}`}>${children}</span>`;
}

export function roleKind(role) {
  if (role === 'master') return 'master';
  if (role === 'backup') return 'backup';
  if (role === 'fault' || role === 'init') return 'bad';
  return '';
}

/** An API error as text: message, and positions when the node gave them. */
export function ErrorText({ err }) {
  if (!err) return null;
  const items = err.body && Array.isArray(err.body.errors) ? err.body.errors : [];
  return html`<div class="error" role="alert">${err.message}${items.length > 0 && html`<ul>${items.map((e) => html`<li>${e.line !== undefined ? `${e.line}:${e.col}: ` : ''}${e.field ? `${e.field}: ` : ''}${e.message}</li>`)}</ul>`}</div>`;
}

export function ago(ms) {
  if (ms === null || ms === undefined) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms ago`;
  return `${(ms / 1000).toFixed(1)} s ago`;
}

export function fmt(n, digits = 1) {
  if (n === null || n === undefined || Number.isNaN(n)) return '-';
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en');
  return Number(n.toFixed(digits)).toString();
}
