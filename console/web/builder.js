// The rule builder: forms generated from GET /v1/schema (console/forms.ts), checked as
// you type (locally, then POST /v1/ruleset/check with the positions mapped back to the
// rows), a diff preview, and apply as a transaction on the generation the preview was
// made against: a concurrent change answers 409 and is shown, never overwritten.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { html, ErrorText } from '/console/ui.js';
import { api, session, VIEW_ONLY } from '/console/api.js';
import { buildForms, buildRule, rowAtLine, newStatementRow } from '/console/lib/forms.js';

let schemaCache;
function useForms() {
  const [forms, setForms] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    schemaCache ??= api('GET', '/v1/schema');
    schemaCache.then((s) => setForms(buildForms(s)), (err) => { schemaCache = undefined; setError(err); });
  }, []);
  return { forms, error };
}

function Diff({ text }) {
  if (!text) return html`<p class="muted">No change.</p>`;
  return html`<pre data-testid="diff" aria-label="diff preview">${text.split('\n').map((l) => html`<span class=${l.startsWith('+') && !l.startsWith('+++') ? 'diff-add' : l.startsWith('-') && !l.startsWith('---') ? 'diff-del' : ''}>${`${l}\n`}</span>`)}</pre>`;
}

function FieldInput({ id, f, value, onChange, forms }) {
  if (f.kind === 'boolean') return html`<input id=${id} type="checkbox" checked=${value === true} onChange=${(e) => onChange(e.currentTarget.checked)} />`;
  if (f.kind === 'enum') return html`<select id=${id} value=${value ?? ''} onChange=${(e) => onChange(e.currentTarget.value)}><option value="">${f.required ? 'choose…' : '(default)'}</option>${f.options.map((o) => html`<option value=${o}>${o}</option>`)}</select>`;
  if (f.kind === 'flags') {
    const cur = Array.isArray(value) ? value : [];
    return html`<fieldset id=${id}><legend class="sr-only">${f.name}</legend>${f.options.map((o, i) => html`<label><input type="checkbox" id=${`${id}-${i}`} checked=${cur.includes(o)} onChange=${(e) => onChange(e.currentTarget.checked ? [...cur, o] : cur.filter((x) => x !== o))} /> ${o}</label>`)}</fieldset>`;
  }
  const list = f.kind === 'selector' ? `${id}-list` : undefined;
  return html`<input id=${id} type="text" inputmode=${f.kind === 'integer' ? 'numeric' : undefined} list=${list} value=${value ?? ''} onInput=${(e) => onChange(e.currentTarget.value)} />
    ${list && html`<datalist id=${list}>${forms.matches.map((m) => html`<option value=${m.name} />`)}</datalist>`}`;
}

function errorsAt(errors, at) {
  return errors.filter((e) => e.at === at || e.at.startsWith(`${at}/`));
}

export function Builder({ chains, generation }) {
  const { forms, error } = useForms();
  const [draft, setDraft] = useState({ family: '', table: '', chain: '', matches: [], statements: [] });
  const [addMatch, setAddMatch] = useState('');
  const [addStmt, setAddStmt] = useState('');
  const [check, setCheck] = useState(null);
  const [result, setResult] = useState(null);
  const [busy, setBusy] = useState(false);
  const seq = useRef(0);
  const inflight = useRef(Promise.resolve());

  useEffect(() => {
    if (!draft.chain && chains.length > 0) setDraft((d) => ({ ...d, family: chains[0].family, table: chains[0].table, chain: chains[0].name }));
  }, [chains]);

  const built = useMemo(() => (forms ? buildRule(forms, draft) : null), [forms, draft]);

  // The node's check, 300 ms after the last keystroke, when the local checks pass.
  useEffect(() => {
    if (!built || built.errors.length > 0) { setCheck(null); return; }
    const my = ++seq.current;
    const t = setTimeout(async () => {
      // One check at a time (each loads a copy of the ruleset on the node): wait for the
      // one in flight, then check only if nothing newer was typed meanwhile.
      await inflight.current;
      if (my !== seq.current) return;
      const run = api('POST', '/v1/ruleset/check', { ops: built.text }).then(
        (r) => { if (my === seq.current) setCheck({ ...r, text: built.text }); },
        // 413: the ruleset is too large to copy for a check; the rule can still be applied
        // (validated all or nothing), on the generation the builder last saw.
        (err) => { if (my === seq.current) setCheck({ ok: false, errors: [], failure: err, tooLarge: err.status === 413, text: built.text, generation }); },
      );
      inflight.current = run;
      await run;
    }, 300);
    return () => clearTimeout(t);
  }, [built, generation]);

  if (error) return html`<${ErrorText} err=${error} />`;
  if (!forms) return html`<p>Loading the module registry…</p>`;
  const family = draft.family;
  const localErrors = built?.errors ?? [];
  // Server positions (line:col in the JSON text) -> the row they are in.
  const serverErrors = (check?.errors ?? []).map((e) => ({ at: rowAtLine(built, e.line) ?? '/', message: `${e.line}:${e.col}: ${e.message}` }));
  const allErrors = [...localErrors, ...serverErrors];
  const set = (fn) => { setResult(null); setDraft((d) => fn(structuredClone(d))); };

  const apply = async () => {
    setBusy(true);
    setResult(null);
    try {
      const r = await api('POST', '/v1/ruleset/transactions', { ops: check.text, baseGeneration: check.generation });
      setResult({ ok: true, message: `Applied: generation ${r.generation}${r.version !== undefined ? `, cluster version ${r.version}` : ''}.`, warnings: r.warnings ?? [] });
      setDraft((d) => ({ ...d, matches: [], statements: [] }));
    } catch (err) {
      const conflict = err.status === 409;
      setResult({ ok: false, conflict, err, message: conflict ? `Not applied: ${err.message}. Nothing was overwritten; review the new preview and apply again.` : err.message });
      seq.current++;
      setDraft((d) => ({ ...d })); // re-check against the current ruleset
    } finally {
      setBusy(false);
    }
  };

  const matchesHere = forms.matches.filter((m) => m.families.length === 0 || m.families.includes(family));
  const stmtsHere = forms.statements.filter((s) => s.families.length === 0 || s.families.includes(family));
  return html`
    <section aria-labelledby="builder-h" data-testid="builder">
      <h2 id="builder-h">Rule builder</h2>
      <p class="muted">Every match and statement below comes from this node's module registry (GET /v1/schema): ${forms.matches.length} matches, ${forms.statements.length} statements.</p>
      <div class="row">
        <div class="field"><label for="b-chain">Chain</label>
          <select id="b-chain" value=${`${draft.family} ${draft.table} ${draft.chain}`} onChange=${(e) => { const [f, t, c] = e.currentTarget.value.split(' '); set((d) => ({ ...d, family: f, table: t, chain: c })); }}>
            ${chains.map((c) => html`<option value=${`${c.family} ${c.table} ${c.name}`}>${c.family} ${c.table} ${c.name}${c.hook ? ` (hook ${c.hook})` : ''}</option>`)}
          </select></div>
      </div>
      ${draft.matches.map((row, i) => {
        const m = forms.matches.find((x) => x.name === row.name);
        const errs = errorsAt(allErrors, `/matches/${i}`);
        const id = `m${i}`;
        return html`<div class=${`builder-row${errs.length ? ' has-error' : ''}`} data-testid="match-row">
          <div class="row">
            <strong>${row.name}</strong>
            <div class="field"><label for=${`${id}-op`}>operator</label>
              <select id=${`${id}-op`} value=${row.op} onChange=${(e) => set((d) => { d.matches[i].op = e.currentTarget.value; return d; })}>${forms.ops.map((o) => html`<option value=${o}>${o}</option>`)}</select></div>
            <div class="field"><label for=${`${id}-value`}>value (${m?.valueType ?? '?'})</label>
              <input id=${`${id}-value`} type="text" list=${`${id}-sym`} value=${row.value} aria-invalid=${errs.length > 0} aria-describedby=${`${id}-help`} onInput=${(e) => set((d) => { d.matches[i].value = e.currentTarget.value; return d; })} />
              ${m && m.symbols.length > 0 && html`<datalist id=${`${id}-sym`}>${m.symbols.slice(0, 300).map((s) => html`<option value=${s} />`)}</datalist>`}</div>
            <button type="button" class="secondary" onClick=${() => set((d) => { d.matches.splice(i, 1); return d; })} aria-label=${`remove match ${row.name}`}>Remove</button>
          </div>
          <div id=${`${id}-help`} class="help muted">${m?.help}${m?.typeHelp ? ` — ${m.valueType}: ${m.typeHelp}` : ''}. Also: a prefix (a/len), a range (a-b), a set ({ a, b }) or @set.</div>
          ${errs.map((e) => html`<div class="error" role="alert">${e.message}</div>`)}
        </div>`;
      })}
      ${draft.statements.map((row, i) => {
        const s = forms.statements.find((x) => x.name === row.name);
        const errs = errorsAt(allErrors, `/statements/${i}`);
        const id = `s${i}`;
        return html`<div class=${`builder-row${errs.length ? ' has-error' : ''}`} data-testid="statement-row">
          <div class="row">
            ${s && s.keys.length > 1
              ? html`<div class="field"><label for=${`${id}-key`}>${row.name}</label><select id=${`${id}-key`} value=${row.key} onChange=${(e) => set((d) => { d.statements[i].key = e.currentTarget.value; return d; })}>${s.keys.map((k) => html`<option value=${k}>${k}</option>`)}</select></div>`
              : html`<strong>${row.name}</strong>`}
            ${(s?.fields ?? []).map((f) => html`<div class="field"><label for=${`${id}-${f.name}`}>${f.name}${f.required ? ' *' : ''} <span class="muted">(${f.type})</span></label>
              <${FieldInput} id=${`${id}-${f.name}`} f=${f} forms=${forms} value=${row.values[f.name]} onChange=${(v) => set((d) => { d.statements[i].values[f.name] = v; return d; })} />
              <div class="help muted">${f.help}</div></div>`)}
            <button type="button" class="secondary" onClick=${() => set((d) => { d.statements.splice(i, 1); return d; })} aria-label=${`remove statement ${row.name}`}>Remove</button>
          </div>
          <div class="help muted">${s?.help}</div>
          ${errs.map((e) => html`<div class="error" role="alert">${e.message}</div>`)}
        </div>`;
      })}
      <div class="row">
        <div class="field"><label for="add-match">Add a match</label>
          <select id="add-match" value=${addMatch} onChange=${(e) => setAddMatch(e.currentTarget.value)}><option value="">choose…</option>${matchesHere.map((m) => html`<option value=${m.name} title=${m.help}>${m.name} — ${m.help}</option>`)}</select></div>
        <button type="button" disabled=${!addMatch} onClick=${() => { set((d) => { d.matches.push({ name: addMatch, op: '==', value: '' }); return d; }); setAddMatch(''); }}>Add match</button>
      </div>
      <div class="row">
        <div class="field"><label for="add-stmt">Add a statement</label>
          <select id="add-stmt" value=${addStmt} onChange=${(e) => setAddStmt(e.currentTarget.value)}><option value="">choose…</option>${stmtsHere.map((s) => html`<option value=${s.name} title=${s.help}>${s.name} — ${s.help}</option>`)}</select></div>
        <button type="button" disabled=${!addStmt} onClick=${() => { const s = forms.statements.find((x) => x.name === addStmt); set((d) => { d.statements.push(newStatementRow(s)); return d; }); setAddStmt(''); }}>Add statement</button>
      </div>
      <h3>Preview</h3>
      <div aria-live="polite" data-testid="check-state">
        ${draft.matches.length + draft.statements.length === 0 ? html`<p class="muted">Add matches and statements to build a rule.</p>`
          : localErrors.length > 0 ? html`<p class="warn">${localErrors.length} problem${localErrors.length > 1 ? 's' : ''} to fix (shown at the rows).</p>`
          : !check ? html`<p class="muted">Checking…</p>`
          : check.tooLarge ? html`<p class="warn">No preview: ${check.failure.message}</p>`
          : check.failure ? html`<${ErrorText} err=${check.failure} />`
          : check.ok ? html`<p class="ok">Valid against generation ${check.generation}: ${check.changes} change${check.changes === 1 ? '' : 's'}.</p>`
          : html`<p class="error">The node refuses this rule (see the rows).</p>${serverErrors.filter((e) => e.at === '/').map((e) => html`<p class="error">${e.message}</p>`)}`}
      </div>
      ${check?.ok && html`<${Diff} text=${check.diff} />`}
      <details><summary>JSON sent to the node</summary><pre>${built?.text}</pre></details>
      ${session.canWrite()
        ? html`<button type="button" data-testid="apply" disabled=${busy || localErrors.length > 0 || !((check?.ok && check.diff) || check?.tooLarge)} onClick=${apply}>Apply (base generation ${check?.generation ?? '-'})</button>`
        : html`<p class="muted" data-testid="apply-view-only">${VIEW_ONLY}</p>`}
      ${result && html`<div role="status" class=${result.ok ? 'ok' : 'error'} data-testid="apply-result">${result.message}${result.warnings?.length ? html`<ul class="warn">${result.warnings.map((w) => html`<li>${w}</li>`)}</ul>` : ''}</div>`}
    </section>`;
}
