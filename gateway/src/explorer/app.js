// bizgraph explorer: browse the composed graph, walk its relations, and try queries.
// Plain JavaScript, no framework and nothing fetched from elsewhere: the page reads
// `explorer/api/model` once, builds its search index from it, and renders lists lazily so
// that graphs of thousands of entities stay responsive.
'use strict';

(() => {
  performance.mark('explorer:start');

  // ----- small DOM helpers -----

  const $ = (id) => document.getElementById(id);

  /** Creates an element: h('a', {href: '#', class: 'x'}, 'text', child). */
  function h(tag, attrs, ...children) {
    const element = document.createElement(tag);
    if (attrs) {
      for (const [name, value] of Object.entries(attrs)) {
        if (value === undefined || value === null || value === false) continue;
        if (name === 'class') element.className = value;
        else if (name === 'text') element.textContent = value;
        else if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
        else if (name === 'dataset') Object.assign(element.dataset, value);
        else element.setAttribute(name, value === true ? '' : value);
      }
    }
    append(element, children);
    return element;
  }

  /** Replaces an element's children; arrays among them are flattened, nulls skipped. */
  function fill(element, ...children) {
    element.replaceChildren();
    append(element, children);
  }

  function append(element, children) {
    for (const child of children) {
      if (child === undefined || child === null || child === false) continue;
      if (Array.isArray(child)) append(element, child);
      else element.append(child instanceof Node ? child : String(child));
    }
  }

  const SVG = 'http://www.w3.org/2000/svg';
  function s(tag, attrs, ...children) {
    const element = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
      else if (name === 'dataset') Object.assign(element.dataset, value);
      else element.setAttribute(name, value);
    }
    append(element, children);
    return element;
  }

  // ----- state -----

  const state = {
    model: null,
    entities: [],
    namespaces: [],
    byKey: new Map(), // "ns/name" -> entity id
    nsByName: new Map(), // name -> namespace json
    incoming: null, // entity id -> [{from, relation}]
    searchIndex: null,
    list: [], // rows of the sidebar list
    nsFilter: null,
    query: '',
    current: null, // entity id shown
    selectedRow: -1,
  };

  const entityKey = (id) => {
    const entity = state.entities[id];
    return `${state.namespaces[entity.ns].name}/${entity.name}`;
  };
  const entityHash = (id, tab) => {
    const entity = state.entities[id];
    const base = `#/entity/${encodeURIComponent(state.namespaces[entity.ns].name)}/${encodeURIComponent(entity.name)}`;
    return tab ? `${base}/${tab}` : base;
  };
  const graphNamespaces = () => state.namespaces; // graph order, as entity.ns indexes

  // ----- loading -----

  async function load() {
    let response;
    try {
      response = await fetch('explorer/api/model', { credentials: 'same-origin' });
    } catch (error) {
      return failed(`The gateway cannot be reached: ${error.message}`);
    }
    if (response.status === 401) {
      return signIn();
    }
    if (!response.ok) {
      return failed(`The model could not be loaded: HTTP ${response.status} ${await errorText(response)}`);
    }
    const model = await response.json();
    setModel(model);
    renderNamespaces();
    renderList();
    markFirstPaint();
    route();
    window.addEventListener('hashchange', route);
    // The property index is built after the first paint, in the background.
    setTimeout(() => searchIndex(), 0);
  }

  async function errorText(response) {
    try {
      const body = await response.json();
      return body.error ? body.error.message : JSON.stringify(body);
    } catch {
      return '';
    }
  }

  function markFirstPaint() {
    performance.mark('explorer:entities-rendered');
    const measure = performance.measure('explorer:first-paint', { start: 0, end: 'explorer:entities-rendered' });
    window.explorerFirstPaint = measure.duration;
    document.documentElement.dataset.ready = 'true';
  }

  function failed(message) {
    const status = $('status');
    status.textContent = message;
    status.classList.add('error');
    document.documentElement.dataset.ready = 'error';
  }

  function signIn() {
    failed('Sign-in required');
    const home = $('view-home');
    fill(home,
      h('div', { class: 'card signin' },
        h('h2', { text: 'Sign in to explore the graph' }),
        h('p', { text: 'The explorer shows the graph with your own credentials. Your browser asks for them when you retry; behind an application router, sign in there first.' }),
        h('button', { class: 'primary', type: 'button', onclick: () => location.reload() }, 'Retry')));
    document.documentElement.dataset.ready = 'signin';
  }

  function setModel(model) {
    state.model = model;
    // All namespaces in configuration order (with sources that failed entirely), and those of
    // the graph by the index entities refer to (entity.ns).
    state.allNamespaces = model.namespaces;
    state.namespaces = [];
    for (const ns of model.namespaces) if (ns.id !== null) state.namespaces[ns.id] = ns;
    state.entities = model.entities;
    state.byKey.clear();
    state.nsByName.clear();
    for (const ns of model.namespaces) state.nsByName.set(ns.name, ns);
    model.entities.forEach((entity, id) => {
      entity.id = id;
      state.byKey.set(entityKey(id), id);
      entity.search = `${entity.name} ${entity.label || ''}`.toLowerCase();
    });
    state.searchIndex = null;
    state.incoming = null;
    const size = model.size || {};
    $('entity-count').textContent = `${model.entities.length} entities`;
    const failedSources = model.namespaces.filter((ns) => ns.state !== 'ready').length;
    $('status').textContent = `${model.namespaces.length} namespaces · ${model.entities.length} entities · ${size.fields ?? 0} properties · ${size.relations ?? 0} relations`
      + (failedSources ? ` · ${failedSources} not ready` : '')
      + (model.loaded ? '' : ' · still loading');
  }

  // ----- namespaces -----

  function renderNamespaces() {
    const list = $('namespaces');
    const items = [h('li', {
      class: state.nsFilter === null ? 'active' : '',
      dataset: { ns: '' },
      onclick: () => { location.hash = '#/'; },
    }, h('span', { class: 'ns-name', text: 'All namespaces' }), h('span', { class: 'ns-size', text: String(state.entities.length) }))];
    for (const ns of state.allNamespaces) {
      const reasons = ns.sources.filter((source) => source.error).map((source) => `${source.destination} ${source.path}: ${source.error}`);
      items.push(h('li', {
        class: state.nsFilter === ns.name ? 'active' : '',
        dataset: { ns: ns.name },
        title: reasons.join('\n') || `${ns.sources.length} source(s)`,
        onclick: () => { location.hash = `#/ns/${encodeURIComponent(ns.name)}`; },
      },
      h('span', null,
        h('span', { class: 'ns-name', text: ns.name }), ' ',
        h('span', { class: `badge ${ns.state}`, text: ns.state }),
        reasons.length ? h('span', { class: 'reason', text: reasons[0] }) : null),
      h('span', { class: 'ns-size', text: String(ns.entities.length) })));
    }
    fill(list, ...items);
  }

  // ----- the entity list (virtualized) -----

  const ROW = 30;

  function defaultRows() {
    const rows = [];
    for (const ns of state.allNamespaces) {
      if (state.nsFilter !== null && ns.name !== state.nsFilter) continue;
      if (state.nsFilter === null && state.allNamespaces.length > 1) rows.push({ header: `${ns.name} (${ns.entities.length})` });
      const ids = ns.entities.slice().sort((a, b) => compareNames(state.entities[a].name, state.entities[b].name));
      for (const id of ids) rows.push({ entity: id });
    }
    return rows;
  }

  const compareNames = (a, b) => a.localeCompare(b, undefined, { sensitivity: 'base' });

  function renderList() {
    const query = state.query.trim().toLowerCase();
    state.list = query ? searchRows(query) : defaultRows();
    state.selectedRow = -1;
    const box = $('entity-list');
    box.querySelector('.spacer').style.height = `${state.list.length * ROW}px`;
    box.scrollTop = 0;
    paintRows();
  }

  function paintRows() {
    const box = $('entity-list');
    const first = Math.max(0, Math.floor(box.scrollTop / ROW) - 8);
    const last = Math.min(state.list.length, Math.ceil((box.scrollTop + (box.clientHeight || 600)) / ROW) + 8);
    const rows = [];
    for (let index = first; index < last; index++) rows.push(rowElement(state.list[index], index));
    const spacer = box.querySelector('.spacer');
    fill(box, spacer, ...rows);
  }

  function rowElement(row, index) {
    let element;
    if (row.header) {
      element = h('div', { class: 'row header', text: row.header });
    } else if (row.property === undefined) {
      const entity = state.entities[row.entity];
      element = h('div', {
        class: `row entity${state.current === row.entity ? ' selected' : ''}${index === state.selectedRow ? ' selected' : ''}`,
        role: 'option',
        dataset: { entity: entityKey(row.entity) },
        title: entity.description || entity.label || entity.type,
        onclick: () => { location.hash = entityHash(row.entity); },
      },
      h('span', { class: 'icon', text: KIND_ICON[entity.kind] }),
      h('span', { class: 'name' }, highlightText(entity.name)),
      entity.label ? h('span', { class: 'sub' }, highlightText(entity.label)) : null,
      h('span', { class: 'ns', text: state.namespaces[entity.ns].name }));
    } else {
      const entity = state.entities[row.entity];
      const property = entity.properties[row.property];
      element = h('div', {
        class: `row property${index === state.selectedRow ? ' selected' : ''}`,
        role: 'option',
        dataset: { entity: entityKey(row.entity), property: property.name },
        onclick: () => { location.hash = entityHash(row.entity); },
      },
      h('span', { class: 'icon', text: '·' }),
      h('span', { class: 'sub', text: `${entity.name}.` }),
      h('span', { class: 'name' }, highlightText(property.name)),
      property.label ? h('span', { class: 'sub' }, highlightText(property.label)) : null,
      h('span', { class: 'ns', text: state.namespaces[entity.ns].name }));
    }
    element.style.top = `${index * ROW}px`;
    return element;
  }

  const KIND_ICON = { set: '▤', singleton: '◆', contained: '◇' };

  function highlightText(text) {
    const query = state.query.trim().toLowerCase();
    if (!query) return text;
    const terms = query.split(/\s+/).filter(Boolean);
    const lower = text.toLowerCase();
    const term = terms.find((t) => lower.includes(t));
    if (!term) return text;
    const at = lower.indexOf(term);
    return [text.slice(0, at), h('mark', { text: text.slice(at, at + term.length) }), text.slice(at + term.length)];
  }

  // ----- search -----

  /** The property index: flat arrays, built once per model. */
  function searchIndex() {
    if (state.searchIndex) return state.searchIndex;
    const owner = [];
    const position = [];
    const text = [];
    state.entities.forEach((entity, id) => {
      entity.properties.forEach((property, index) => {
        owner.push(id);
        position.push(index);
        text.push(`${property.name} ${property.label || ''}`.toLowerCase());
      });
    });
    state.searchIndex = { owner, position, text };
    return state.searchIndex;
  }

  const MAX_PROPERTY_HITS = 2000;

  function searchRows(query) {
    const terms = query.split(/\s+/).filter(Boolean);
    const matches = (text) => terms.every((term) => text.includes(term));
    const hits = [];
    for (const entity of state.entities) {
      if (state.nsFilter !== null && state.namespaces[entity.ns].name !== state.nsFilter) continue;
      if (!matches(entity.search)) continue;
      const name = entity.name.toLowerCase();
      // Exact names first, then names that start with the text (sets and singletons before
      // types reached by navigation), then the rest; shorter names first within a rank.
      const addressable = entity.kind !== 'contained' ? 0 : 1;
      const rank = name === query ? 0 : name.startsWith(terms[0]) ? 1 + addressable : name.includes(terms[0]) ? 3 + addressable : 5;
      hits.push({ rank, id: entity.id, length: name.length });
    }
    hits.sort((a, b) => a.rank - b.rank || a.length - b.length || compareNames(state.entities[a.id].name, state.entities[b.id].name));
    const index = searchIndex();
    const properties = [];
    let propertyCount = 0;
    for (let i = 0; i < index.text.length; i++) {
      if (!matches(index.text[i])) continue;
      const id = index.owner[i];
      if (state.nsFilter !== null && state.namespaces[state.entities[id].ns].name !== state.nsFilter) continue;
      propertyCount++;
      if (properties.length < MAX_PROPERTY_HITS) properties.push({ entity: id, property: index.position[i] });
    }
    const rows = [];
    rows.push({ header: `Entities (${hits.length})` });
    for (const hit of hits) rows.push({ entity: hit.id });
    rows.push({ header: `Properties (${propertyCount}${propertyCount > properties.length ? `, first ${properties.length} shown` : ''})` });
    rows.push(...properties);
    $('search-count').textContent = `${hits.length} entities, ${propertyCount} properties`;
    return rows;
  }

  let searchPending = false;
  function onSearchInput() {
    state.query = $('search').value;
    if (!state.query.trim()) $('search-count').textContent = '';
    if (searchPending) return;
    searchPending = true;
    // One search per frame, however fast the typing.
    requestAnimationFrame(() => {
      searchPending = false;
      renderList();
    });
  }

  function onSearchKey(event) {
    const selectable = state.list.map((row, index) => (row.entity !== undefined ? index : -1)).filter((i) => i >= 0);
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const at = selectable.indexOf(state.selectedRow);
      const next = event.key === 'ArrowDown' ? Math.min(selectable.length - 1, at + 1) : Math.max(0, at - 1);
      state.selectedRow = selectable[next] ?? -1;
      const box = $('entity-list');
      const top = state.selectedRow * ROW;
      if (top < box.scrollTop || top > box.scrollTop + box.clientHeight - ROW) box.scrollTop = top - box.clientHeight / 2;
      paintRows();
    } else if (event.key === 'Enter') {
      const row = state.list[state.selectedRow >= 0 ? state.selectedRow : selectable[0]];
      if (row) location.hash = entityHash(row.entity);
    } else if (event.key === 'Escape') {
      $('search').value = '';
      onSearchInput();
    }
  }

  // ----- routing -----

  function route() {
    const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
    if (parts[0] === 'entity' && parts.length >= 3) {
      const id = state.byKey.get(`${parts[1]}/${parts[2]}`);
      if (id !== undefined) return showEntity(id, parts[3] === 'try' ? 'try' : 'overview');
      return showHome(`No entity ${parts[2]} in namespace ${parts[1]}.`);
    }
    if (parts[0] === 'ns' && parts[1]) {
      setNamespaceFilter(parts[1]);
      return showHome(null, parts[1]);
    }
    setNamespaceFilter(null);
    showHome();
  }

  function setNamespaceFilter(name) {
    if (state.nsFilter === name) return;
    state.nsFilter = name;
    renderNamespaces();
    renderList();
  }

  function showView(name) {
    $('view-home').hidden = name !== 'home';
    $('view-entity').hidden = name !== 'entity';
  }

  // ----- home and namespace views -----

  function showHome(message, only) {
    state.current = null;
    paintRows();
    showView('home');
    const cards = [];
    cards.push(h('h1', { text: only ? `Namespace ${only}` : 'Business graph' }));
    if (message) cards.push(h('p', { class: 'errors', text: message }));
    for (const ns of state.allNamespaces) {
      if (only && ns.name !== only) continue;
      const rows = ns.sources.map((source) => h('tr', { dataset: { destination: source.destination } },
        h('td', { class: 'mono', text: source.destination }),
        h('td', { class: 'mono', text: source.path }),
        h('td', { text: source.dialect || (source.version ? `OData ${source.version}` : '') }),
        h('td', null, h('span', { class: `badge ${source.state}`, text: source.state })),
        h('td', { text: String(source.entitySets ?? '') }),
        h('td', { class: source.error ? 'error' : '', text: source.error || '' })));
      const card = h('div', { class: 'card ns-card', dataset: { ns: ns.name } },
        h('h2', null, h('a', { href: `#/ns/${encodeURIComponent(ns.name)}`, text: ns.name }),
          h('span', { class: `badge ${ns.state}`, text: ns.state }),
          h('small', { text: `${ns.entities.length} entities${ns.gql ? ` · GraphQL field ${ns.gql}` : ''} · OData odata/v4/${ns.name}/` })),
        h('div', { class: 'table-box' }, h('table', { class: 'grid sources' },
          h('thead', null, h('tr', null, ['Destination', 'Path', 'Protocol', 'State', 'Entity sets', 'Error'].map((t) => h('th', { text: t })))),
          h('tbody', null, rows))));
      if (only) {
        const ids = ns.entities.slice().sort((a, b) => compareNames(state.entities[a].name, state.entities[b].name));
        const shown = ids.slice(0, 300);
        card.append(h('h3', { text: 'Entities' }), h('div', { class: 'table-box' }, h('table', { class: 'grid' },
          h('thead', null, h('tr', null, ['Name', 'Label', 'Kind', 'Properties', 'Relations'].map((t) => h('th', { text: t })))),
          h('tbody', null, shown.map((id) => {
            const entity = state.entities[id];
            return h('tr', null,
              h('td', null, h('a', { href: entityHash(id), text: entity.name })),
              h('td', { text: entity.label || '' }),
              h('td', { text: entity.kind }),
              h('td', { text: String(entity.properties.length) }),
              h('td', { text: String(entity.relations.length) }));
          })))));
        if (ids.length > shown.length) card.append(h('p', { class: 'more', text: `…and ${ids.length - shown.length} more: use the search.` }));
      }
      cards.push(card);
    }
    const findings = state.model.findings || [];
    if (findings.length && !only) {
      cards.push(h('details', { class: 'card' }, h('summary', { text: `Composition findings (${findings.length})` }),
        h('ul', { class: 'findings' }, findings.slice(0, 500).map((f) => h('li', { text: f })))));
    }
    fill($('view-home'), h('div', { class: 'home' }, cards));
    document.title = only ? `${only} · bizgraph explorer` : 'bizgraph explorer';
  }

  // ----- entity view -----

  function incoming() {
    if (state.incoming) return state.incoming;
    const incomingLists = state.entities.map(() => []);
    state.entities.forEach((entity, id) => {
      entity.relations.forEach((relation, index) => incomingLists[relation.target].push({ from: id, relation: index }));
    });
    state.incoming = incomingLists;
    return incomingLists;
  }

  function showEntity(id, tab) {
    const entity = state.entities[id];
    const ns = state.namespaces[entity.ns];
    const changed = state.current !== id;
    state.current = id;
    if (state.nsFilter !== null && state.nsFilter !== ns.name) setNamespaceFilter(null);
    paintRows();
    showView('entity');
    document.title = `${entity.name} · ${ns.name} · bizgraph explorer`;
    $('tab-overview').href = entityHash(id);
    $('tab-try').href = entityHash(id, 'try');
    $('tab-overview').classList.toggle('active', tab === 'overview');
    $('tab-try').classList.toggle('active', tab === 'try');
    $('pane-overview').hidden = tab !== 'overview';
    $('pane-try').hidden = tab !== 'try';
    if (changed) {
      renderEntityHead(entity, ns);
      renderOverview(id);
      renderBuilder(id);
      resetTry(id);
    }
    if (tab === 'try') paintEditor();
    $('main').scrollTop = 0;
  }

  function renderEntityHead(entity, ns) {
    $('entity-ns').textContent = ns.name;
    $('entity-ns').href = `#/ns/${encodeURIComponent(ns.name)}`;
    $('entity-kind').textContent = { set: 'entity set', singleton: 'singleton', contained: 'reached by navigation' }[entity.kind];
    $('entity-title').textContent = entity.name;
    $('entity-label').textContent = entity.label || '';
    $('entity-description').textContent = entity.description || '';
    const facts = [];
    const fact = (term, value) => { if (value) facts.push(h('dt', { text: term }), h('dd', null, value)); };
    fact('Keys', entity.keys.join(', ') || '—');
    fact('OData type', entity.type);
    if (entity.gqlField) fact('GraphQL', `${ns.gql} { ${entity.gqlField}${entity.kind === 'set' ? ' { nodes { … } }' : ' { … }'} }`);
    fact('GraphQL type', entity.gqlType);
    if (entity.set) fact('OData', h('a', { href: `odata/v4/${encodeURIComponent(ns.name)}/${encodeURIComponent(entity.set)}`, target: '_blank', rel: 'noopener', text: `odata/v4/${ns.name}/${entity.set}` }));
    const source = ns.sources.length === 1 ? ns.sources[0] : null;
    if (source) fact('Source', `${source.destination} ${source.path} (${source.dialect || source.version || ''})`);
    fact('Capabilities', entity.capabilities.join(', '));
    fill($('entity-facts'), ...facts);
  }

  const check = (on) => h('span', { class: on ? 'yes' : 'no', text: on ? '✓' : '–' });

  function renderOverview(id) {
    const entity = state.entities[id];
    $('property-count').textContent = `(${entity.properties.length})`;
    const propertyRows = entity.properties.map((property) => h('tr', {
      class: property.key ? 'key' : '',
      dataset: { property: property.name },
      title: property.description || '',
    },
    h('td', { class: 'mono', text: property.name }),
    h('td', { text: property.label || '' }),
    h('td', { class: 'mono', text: property.type + (property.maxLength ? `(${property.maxLength})` : property.precision !== undefined && property.scale !== undefined ? `(${property.precision},${property.scale})` : '') }),
    h('td', null, check(property.filterable)),
    h('td', null, check(property.sortable)),
    h('td', { class: 'mono', title: property.unitKind || '' }, property.unit || '',
      property.unitKind ? h('span', { class: 'more', text: ` (${property.unitKind})` }) : null),
    h('td', null, check(property.nullable))));
    fill(document.querySelector('table.properties tbody'), ...propertyRows);

    $('relation-count').textContent = `(${entity.relations.length})`;
    const relationRows = entity.relations.map((relation) => {
      const target = state.entities[relation.target];
      const otherNs = target.ns !== entity.ns;
      return h('tr', { dataset: { relation: relation.name } },
        h('td', { class: 'mono', text: relation.name }),
        h('td', null, h('a', {
          class: 'relation-target',
          href: entityHash(relation.target),
          dataset: { entity: entityKey(relation.target) },
          text: otherNs ? `${state.namespaces[target.ns].name} › ${target.name}` : target.name,
        }), target.label ? h('span', { class: 'more', text: ` ${target.label}` }) : null),
        h('td', { text: relation.many ? 'to many' : 'to one' }),
        h('td', null, relation.cross ? h('span', { class: 'cross-tag', text: 'cross-source' }) : 'navigation'),
        h('td', { class: 'mono', text: (relation.on || []).map(([a, b]) => `${a} = ${b}`).join(', ') }));
    });
    fill(document.querySelector('table.relations tbody'), ...relationRows);

    const from = incoming()[id];
    $('incoming-title').hidden = from.length === 0;
    const shown = from.slice(0, 200);
    fill($('incoming'), ...shown.map(({ from: source, relation }) => {
      const entityFrom = state.entities[source];
      const sameNs = entityFrom.ns === entity.ns;
      return h('li', null, h('a', { href: entityHash(source), dataset: { entity: entityKey(source) }, text: sameNs ? entityFrom.name : `${state.namespaces[entityFrom.ns].name} › ${entityFrom.name}` }),
        h('span', { class: 'more', text: ` via ${entityFrom.relations[relation].name}` }));
    }), ...(from.length > shown.length ? [h('li', { class: 'more', text: `…and ${from.length - shown.length} more` })] : []));
    fill($('diagram-box'), diagram(id));

    const operations = (entity.operations || []).map((index) => state.model.operations[index]);
    $('operations-card').hidden = operations.length === 0;
    $('operation-count').textContent = `(${operations.length})`;
    fill(document.querySelector('table.operations tbody'), operations.map((operation) => h('tr', { dataset: { operation: operation.name }, title: operation.description || '' },
      h('td', { class: 'mono', text: operation.name }),
      h('td', { text: operation.kind }),
      h('td', { text: operation.bound && operation.bound.collection ? 'the collection' : 'one entity' }),
      h('td', { class: 'mono', text: operation.parameters.map((p) => `${p.name}: ${p.type}`).join(', ') }),
      h('td', { class: 'mono', text: returnsText(operation.returns) }),
      h('td', { class: 'mono', text: `${operation.kind === 'function' ? '' : 'mutation '}${state.namespaces[operation.ns].gql} { ${operation.gql} }` }))));
  }

  function returnsText(returns) {
    if (!returns) return '';
    const type = returns.entity !== undefined ? state.entities[returns.entity].name : returns.type;
    return returns.collection ? `Collection(${type})` : type;
  }

  // ----- the neighbourhood diagram -----

  const MAX_NEIGHBOURS = 24;
  const RADIAL = 10;

  function diagram(id) {
    const entity = state.entities[id];
    // Neighbours: related entities, each once, with the relations in both directions.
    const neighbours = new Map();
    const add = (target, edge) => {
      if (target === id) return;
      if (!neighbours.has(target)) neighbours.set(target, { id: target, edges: [] });
      neighbours.get(target).edges.push(edge);
    };
    entity.relations.forEach((relation) => add(relation.target, { name: relation.name, out: true, many: relation.many, cross: !!relation.cross }));
    for (const { from, relation } of incoming()[id]) {
      const r = state.entities[from].relations[relation];
      add(from, { name: r.name, out: false, many: r.many, cross: !!r.cross });
    }
    const self = entity.relations.filter((r) => r.target === id);
    // Other namespaces and outgoing relations first, when there are too many to draw.
    const all = [...neighbours.values()].sort((a, b) => score(b) - score(a));
    function score(n) {
      return (state.entities[n.id].ns !== entity.ns ? 4 : 0) + (n.edges.some((e) => e.out) ? 2 : 0) + (n.edges.some((e) => e.cross) ? 1 : 0);
    }
    const drawn = all.slice(0, MAX_NEIGHBOURS);
    const width = 900;
    // Up to RADIAL neighbours sit on an ellipse around the entity; more go into two columns,
    // targets of its own relations on the right and entities pointing at it on the left, so that
    // no boxes or labels overlap however many there are.
    const columns = drawn.length > RADIAL;
    const rowsPerColumn = Math.ceil(drawn.length / 2);
    const height = drawn.length === 0 ? 120 : columns ? Math.max(400, rowsPerColumn * 48 + 40) : 400;
    const cx = width / 2;
    const cy = height / 2;
    const svg = s('svg', { class: 'diagram', id: 'diagram', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `Entities related to ${entity.name}` });
    svg.append(s('defs', null,
      s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: '10', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' },
        s('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#8396a8' }))));
    const edges = s('g');
    const nodes = s('g');
    svg.append(edges, nodes);
    let positions;
    if (columns) {
      const right = drawn.filter((n) => n.edges.some((e) => e.out));
      const left = drawn.filter((n) => !n.edges.some((e) => e.out));
      while (right.length > left.length + 1) left.push(right.pop());
      while (left.length > right.length + 1) right.push(left.pop());
      const place = (list, x, side) => list.map((neighbour, index) => ({
        neighbour, side, x, y: height / 2 + (index - (list.length - 1) / 2) * 48,
      }));
      positions = [...place(left, 110, 'left'), ...place(right, width - 110, 'right')];
    } else {
      positions = drawn.map((neighbour, index) => {
        const angle = -Math.PI / 2 + (2 * Math.PI * index) / Math.max(drawn.length, 1);
        return { neighbour, x: cx + (width / 2 - 110) * Math.cos(angle), y: cy + (height / 2 - 36) * Math.sin(angle) };
      });
    }
    for (const { neighbour, x, y, side } of positions) {
      const cross = neighbour.edges.some((e) => e.cross);
      const out = neighbour.edges.some((e) => e.out);
      const into = neighbour.edges.some((e) => !e.out);
      // Stop the line at the node's box so the arrow head shows.
      const end = clip(cx, cy, x, y, boxWidth(state.entities[neighbour.id].name) / 2 + 3, 20);
      const start = clip(x, y, cx, cy, boxWidth(entity.name) / 2 + 3, 20);
      const line = s('line', { class: `edge${cross ? ' cross' : ''}`, x1: start.x, y1: start.y, x2: end.x, y2: end.y });
      if (out) line.setAttribute('marker-end', 'url(#arrow)');
      if (into) line.setAttribute('marker-start', 'url(#arrow)');
      const names = neighbour.edges.map((e) => `${e.out ? '' : '← '}${e.name}${e.many ? ' [*]' : ''}`);
      line.append(s('title', null, names.join('\n')));
      edges.append(line);
      const label = shorten(names[0] + (names.length > 1 ? ` +${names.length - 1}` : ''), 26);
      if (side) {
        // Beside the node, where the lines have fanned out.
        const offset = boxWidth(state.entities[neighbour.id].name) / 2 + 8;
        edges.append(s('text', side === 'right'
          ? { class: 'edge-label', x: x - offset, y: y - 5, 'text-anchor': 'end' }
          : { class: 'edge-label', x: x + offset, y: y - 5, 'text-anchor': 'start' }, label));
      } else {
        edges.append(s('text', { class: 'edge-label', x: (cx + x) / 2, y: (cy + y) / 2 - 4, 'text-anchor': 'middle' }, label));
      }
    }
    nodes.append(node(id, cx, cy, 'center', self.length ? `self: ${self.map((r) => r.name).join(', ')}` : ''));
    for (const { neighbour, x, y } of positions) {
      const other = state.entities[neighbour.id].ns !== entity.ns;
      nodes.append(node(neighbour.id, x, y, other ? 'other' : 'same', neighbour.edges.map((e) => e.name).join(', ')));
    }
    if (all.length > drawn.length) {
      svg.append(s('text', { class: 'more-label', x: 8, y: height - 8 }, `${all.length - drawn.length} more related entities are listed below`));
    }
    if (all.length === 0) {
      svg.append(s('text', { class: 'more-label', x: cx, y: cy + 40, 'text-anchor': 'middle' }, 'No relations'));
    }
    return svg;
  }

  const boxWidth = (name) => Math.min(190, Math.max(80, shorten(name, 26).length * 7 + 20));
  const shorten = (text, max) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

  /** The point where the line from (x1,y1) to (x2,y2) leaves a box of half-size (w, h) at (x2,y2). */
  function clip(x1, y1, x2, y2, w, hgt) {
    const dx = x1 - x2;
    const dy = y1 - y2;
    if (dx === 0 && dy === 0) return { x: x2, y: y2 };
    const scale = Math.min(Math.abs(w / (dx || 1e-9)), Math.abs(hgt / (dy || 1e-9)));
    return { x: x2 + dx * Math.min(scale, 1), y: y2 + dy * Math.min(scale, 1) };
  }

  function node(id, x, y, kind, tooltip) {
    const entity = state.entities[id];
    const width = boxWidth(entity.name);
    const ns = state.namespaces[entity.ns].name;
    const group = s('g', {
      class: `node ${kind}`,
      dataset: { entity: entityKey(id) },
      transform: `translate(${x - width / 2},${y - 19})`,
      tabindex: kind === 'center' ? '-1' : '0',
      role: 'link',
    });
    group.append(s('rect', { width, height: 38, rx: 7 }),
      s('text', { x: width / 2, y: 16, 'text-anchor': 'middle' }, shorten(entity.name, 26)),
      s('text', { class: 'ns', x: width / 2, y: 30, 'text-anchor': 'middle' }, shorten(ns, 28)),
      s('title', null, `${ns} › ${entity.name}${entity.label ? ` (${entity.label})` : ''}${tooltip ? `\n${tooltip}` : ''}`));
    if (kind !== 'center') {
      const go = () => { location.hash = entityHash(id); };
      group.addEventListener('click', go);
      group.addEventListener('keydown', (event) => { if (event.key === 'Enter') go(); });
    }
    return group;
  }

  // ----- the query builder -----

  const OPERATORS = {
    String: ['eq', 'ne', 'contains', 'startswith', 'endswith', 'gt', 'ge', 'lt', 'le', 'in'],
    ordered: ['eq', 'ne', 'gt', 'ge', 'lt', 'le', 'in'],
    plain: ['eq', 'ne', 'in'],
  };
  const UNORDERED = new Set(['Boolean', 'UUID', 'Binary']);

  function operatorsOf(property) {
    if (property.members) return OPERATORS.plain;
    if (property.gqlType === 'String') return OPERATORS.String;
    if (UNORDERED.has(property.gqlType)) return OPERATORS.plain;
    return OPERATORS.ordered;
  }

  const gqlName = (item) => item.gql || item.name;
  const filterable = (entity, property) => property.filterable && !property.complex && property.gqlType !== 'JSON'
    && entity.capabilities.includes('filterable');

  function renderBuilder(id) {
    const entity = state.entities[id];
    const box = $('builder');
    const ns = state.namespaces[entity.ns];
    if (entity.kind === 'contained') {
      const from = incoming()[id].slice(0, 20);
      fill(box, h('h2', { text: 'Query builder' }),
        h('p', { class: 'note', text: `${entity.name} has no root field: it is read through the relations that lead to it.` }),
        h('ul', { class: 'incoming' }, from.map(({ from: source, relation }) => h('li', null,
          h('a', { href: entityHash(source, 'try'), text: state.entities[source].name }),
          h('span', { class: 'more', text: ` .${state.entities[source].relations[relation].name}` })))));
      return;
    }
    const pickable = entity.properties.filter((p) => !p.complex);
    const fields = h('div', { class: 'fields' }, pickable.map((property) => h('label', { class: 'pick', title: property.description || property.type },
      h('input', { type: 'checkbox', class: 'pick-field', dataset: { field: property.name }, checked: property.key }),
      h('span', { class: 'mono', text: gqlName(property) }),
      property.label ? h('small', { text: property.label }) : null)));
    const relations = h('div', { class: 'fields' }, entity.relations.map((relation) => {
      const target = state.entities[relation.target];
      return h('label', { class: 'pick', title: `${state.namespaces[target.ns].name} › ${target.name}` },
        h('input', { type: 'checkbox', class: 'pick-relation', dataset: { relation: relation.name } }),
        h('span', { class: 'mono', text: gqlName(relation) }),
        h('small', { text: `${relation.many ? '[*] ' : ''}${target.ns !== entity.ns ? `${state.namespaces[target.ns].name} › ` : ''}${target.name}` }));
    }));
    const collection = entity.kind === 'set';
    const filters = collection
      ? h('div', { class: 'filters' }, entity.properties.filter((p) => filterable(entity, p)).map((property) => h('div', { class: 'filter', dataset: { field: property.name } },
        h('span', { class: 'mono', title: property.label || property.name, text: gqlName(property) }),
        h('select', { 'aria-label': `operator for ${property.name}` }, operatorsOf(property).map((op) => h('option', { value: op, text: op }))),
        property.members
          ? h('select', { 'aria-label': `value for ${property.name}` }, h('option', { value: '', text: '' }), property.members.map((m) => h('option', { value: m, text: m })))
          : h('input', { type: 'text', placeholder: property.gqlType, 'aria-label': `value for ${property.name}` }))))
      : null;
    const sortable = entity.properties.filter((p) => p.sortable && !p.complex);
    const paging = collection ? h('div', { class: 'paging' },
      entity.capabilities.includes('top') ? [h('label', { for: 'builder-top', text: 'top' }), h('input', { id: 'builder-top', type: 'number', min: '0', value: '10' })] : null,
      entity.capabilities.includes('skip') ? [h('label', { for: 'builder-skip', text: 'skip' }), h('input', { id: 'builder-skip', type: 'number', min: '0', value: '' })] : null,
      sortable.length && entity.capabilities.includes('sortable') ? [h('label', { for: 'builder-order', text: 'order by' }),
        h('select', { id: 'builder-order' }, h('option', { value: '', text: '' }), sortable.flatMap((p) => [
          h('option', { value: `${gqlName(p)}:asc`, text: `${gqlName(p)} ↑` }),
          h('option', { value: `${gqlName(p)}:desc`, text: `${gqlName(p)} ↓` })]))] : null,
      entity.capabilities.includes('countable') ? [h('label', { for: 'builder-count', text: 'count' }), h('input', { id: 'builder-count', type: 'checkbox', checked: true })] : null)
      : null;
    fill(box,
      h('h2', { text: 'Query builder' }),
      h('div', { class: 'note', text: `${ns.gql} › ${entity.gqlField}` }),
      h('div', { class: 'section', text: 'Fields' }), fields,
      entity.relations.length ? [h('div', { class: 'section', text: 'Relations' }), relations] : null,
      filters ? [h('div', { class: 'section', text: 'Filter (all must hold)' }), filters] : null,
      paging ? [h('div', { class: 'section', text: 'Paging' }), paging] : null,
      h('div', { class: 'actions' },
        h('button', { type: 'button', id: 'builder-write', onclick: () => writeQuery(id) }, 'Write query'),
        h('button', { type: 'button', id: 'builder-run', class: 'primary', onclick: () => { writeQuery(id); run(); } }, 'Write & run')));
  }

  /** A GraphQL literal for a value typed into the builder. */
  function literal(property, text) {
    const value = text.trim();
    if (property.members) return value;
    if ((property.gqlType === 'Int' || property.gqlType === 'Float') && /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(value)) return value;
    if (property.gqlType === 'Boolean' && (value === 'true' || value === 'false')) return value;
    return JSON.stringify(value);
  }

  function builderQuery(id) {
    const entity = state.entities[id];
    const ns = state.namespaces[entity.ns];
    const box = $('builder');
    const picked = [...box.querySelectorAll('input.pick-field:checked')].map((input) => entity.properties.find((p) => p.name === input.dataset.field));
    const related = [...box.querySelectorAll('input.pick-relation:checked')].map((input) => entity.relations.find((r) => r.name === input.dataset.relation));
    const selection = picked.map((p) => gqlName(p));
    for (const relation of related) {
      const target = state.entities[relation.target];
      const keys = target.properties.filter((p) => p.key);
      const more = target.properties.find((p) => !p.key && !p.complex && p.gqlType === 'String');
      const fieldsOfTarget = [...keys, ...(more ? [more] : [])].map(gqlName);
      if (fieldsOfTarget.length === 0) fieldsOfTarget.push('__typename');
      selection.push(relation.many
        ? `${gqlName(relation)} { nodes { ${fieldsOfTarget.join(' ')} } }`
        : `${gqlName(relation)} { ${fieldsOfTarget.join(' ')} }`);
    }
    if (selection.length === 0) selection.push('__typename');
    const args = [];
    const conditions = [];
    for (const row of box.querySelectorAll('.filter')) {
      const value = row.querySelector('input, select + select');
      const text = value ? value.value : '';
      if (!text.trim()) continue;
      const property = entity.properties.find((p) => p.name === row.dataset.field);
      const op = row.querySelector('select').value;
      const operand = op === 'in'
        ? `[${text.split(',').map((part) => literal(property, part)).join(', ')}]`
        : literal(property, text);
      conditions.push(`${gqlName(property)}: {${op}: ${operand}}`);
    }
    if (conditions.length) args.push(`filter: {${conditions.join(', ')}}`);
    const order = $('builder-order');
    if (order && order.value) {
      const [field, direction] = order.value.split(':');
      args.push(`orderBy: [{${field}: ${direction}}]`);
    }
    const top = $('builder-top');
    if (top && top.value !== '') args.push(`top: ${Number(top.value)}`);
    const skip = $('builder-skip');
    if (skip && skip.value !== '') args.push(`skip: ${Number(skip.value)}`);
    const count = $('builder-count');
    // Short argument lists stay on the field's line; long ones get a line each.
    const inline = args.join(', ');
    const call = !args.length ? entity.gqlField
      : inline.length <= 60 ? `${entity.gqlField}(${inline})`
        : `${entity.gqlField}(\n${args.map((arg) => `      ${arg}`).join('\n')}\n    )`;
    const body = selection.map((line) => `        ${line}`).join('\n');
    if (entity.kind === 'singleton') {
      return `{\n  ${ns.gql} {\n    ${entity.gqlField} {\n${selection.map((line) => `      ${line}`).join('\n')}\n    }\n  }\n}\n`;
    }
    return `{\n  ${ns.gql} {\n    ${call} {\n${count && count.checked ? '      totalCount\n' : ''}      nodes {\n${body}\n      }\n    }\n  }\n}\n`;
  }

  function writeQuery(id) {
    setEditor(builderQuery(id));
  }

  // ----- the editor: highlighting and completion -----

  const KEYWORDS = new Set(['query', 'mutation', 'subscription', 'fragment', 'on', 'true', 'false', 'null']);
  const TOKEN = /(#[^\n]*)|("""[\s\S]*?(?:"""|$)|"(?:[^"\\\n]|\\.)*"?)|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(\$[_A-Za-z][_0-9A-Za-z]*)|(@[_A-Za-z][_0-9A-Za-z]*)|([_A-Za-z][_0-9A-Za-z]*)|([{}()[\]:!=,|&]|\.\.\.)|(\s+)|(.)/gy;

  /** Tokens of a GraphQL text: [kind, text]. */
  function tokens(text) {
    const out = [];
    TOKEN.lastIndex = 0;
    let match;
    while (TOKEN.lastIndex < text.length && (match = TOKEN.exec(text))) {
      const kinds = ['comment', 'string', 'number', 'variable', 'directive', 'name', 'punct', 'space', 'other'];
      const index = match.slice(1).findIndex((group) => group !== undefined);
      out.push([kinds[index], match[0]]);
    }
    return out;
  }

  function highlight(text) {
    const list = tokens(text);
    const fragment = document.createDocumentFragment();
    let parens = 0;
    for (let i = 0; i < list.length; i++) {
      const [kind, value] = list[i];
      let cls = null;
      if (kind === 'punct') {
        if (value === '(') parens++;
        if (value === ')') parens = Math.max(0, parens - 1);
        cls = 'punct';
      } else if (kind === 'name') {
        let j = i + 1;
        while (j < list.length && (list[j][0] === 'space' || list[j][0] === 'comment')) j++;
        const colon = list[j] && list[j][1] === ':';
        if (KEYWORDS.has(value)) cls = 'keyword';
        else if (parens > 0) cls = colon ? 'arg' : 'value';
        else cls = colon ? 'alias' : 'field';
      } else if (kind !== 'space' && kind !== 'other') {
        cls = kind;
      }
      fragment.append(cls ? h('span', { class: `tok-${cls}`, text: value }) : value);
    }
    // A trailing newline needs content after it to take up a line in the <pre>.
    fragment.append(' ');
    return fragment;
  }

  function paintEditor() {
    const area = $('query');
    fill($('highlight'), highlight(area.value));
    syncScroll();
  }

  function syncScroll() {
    const area = $('query');
    const pre = document.querySelector('.editor pre');
    pre.scrollTop = area.scrollTop;
    pre.scrollLeft = area.scrollLeft;
  }

  function setEditor(text) {
    $('query').value = text;
    paintEditor();
  }

  // Types the completion walks: {t:'query'}, {t:'ns', ns}, {t:'conn', entity}, {t:'entity', entity},
  // and inside arguments {t:'args', field}, {t:'filter', entity}, {t:'ops', entity, property},
  // {t:'order', entity}.

  function fieldsOf(type) {
    if (!type) return [];
    if (type.t === 'query') {
      return graphNamespaces().filter(Boolean).map((ns) => ({ name: ns.gql, detail: ns.name, type: { t: 'ns', ns } }));
    }
    if (type.t === 'ns') {
      const out = [];
      for (const id of type.ns.entities) {
        const entity = state.entities[id];
        if (entity.kind === 'set') {
          out.push({ name: entity.gqlField, detail: entity.label || 'collection', type: { t: 'conn', entity: id }, args: { t: 'collection', entity: id } });
          if (entity.keys.length && entity.capabilities.includes('addressable')) {
            out.push({ name: `${entity.gqlField}ByKey`, detail: 'by key', type: { t: 'entity', entity: id }, args: { t: 'key', entity: id } });
          }
        } else if (entity.kind === 'singleton') {
          out.push({ name: entity.gqlField, detail: entity.label || 'singleton', type: { t: 'entity', entity: id } });
        }
      }
      for (const index of type.ns.operations) {
        const operation = state.model.operations[index];
        if (operation.kind === 'function') out.push({ name: operation.gql, detail: 'function', type: null, args: { t: 'operation', operation } });
      }
      return out;
    }
    if (type.t === 'conn') {
      return [{ name: 'nodes', detail: 'entities', type: { t: 'entity', entity: type.entity } }, { name: 'totalCount', detail: 'Int' }];
    }
    if (type.t === 'entity') {
      const entity = state.entities[type.entity];
      const out = entity.properties.map((p) => ({ name: gqlName(p), detail: p.label ? `${p.gqlType} · ${p.label}` : p.gqlType }));
      for (const relation of entity.relations) {
        const target = state.entities[relation.target];
        out.push(relation.many
          ? { name: gqlName(relation), detail: `[${target.name}]`, type: { t: 'conn', entity: relation.target }, args: { t: 'collection', entity: relation.target } }
          : { name: gqlName(relation), detail: target.name, type: { t: 'entity', entity: relation.target } });
      }
      if (entity.etag) out.push({ name: '_etag', detail: 'String' });
      return out;
    }
    return [];
  }

  function argumentsOf(args) {
    if (!args) return [];
    if (args.t === 'collection') {
      const entity = state.entities[args.entity];
      const out = [
        { name: 'filter', detail: 'conditions', type: { t: 'filter', entity: args.entity } },
        { name: 'orderBy', detail: 'sort keys', type: { t: 'order', entity: args.entity } },
      ];
      if (entity.capabilities.includes('top')) out.push({ name: 'top', detail: 'Int' });
      if (entity.capabilities.includes('skip')) out.push({ name: 'skip', detail: 'Int' });
      if (entity.capabilities.includes('searchable')) out.push({ name: 'search', detail: 'String' });
      return out;
    }
    if (args.t === 'key') {
      const entity = state.entities[args.entity];
      return entity.properties.filter((p) => p.key).map((p) => ({ name: gqlName(p), detail: p.gqlType }));
    }
    if (args.t === 'operation') {
      return args.operation.parameters.map((p) => ({ name: gqlName(p), detail: p.gqlType }));
    }
    return [];
  }

  function keysOf(type) {
    if (!type) return [];
    if (type.t === 'filter') {
      const entity = state.entities[type.entity];
      const out = entity.properties.filter((p) => filterable(entity, p)).map((p) => ({ name: gqlName(p), detail: p.gqlType, type: { t: 'ops', entity: type.entity, property: p } }));
      for (const relation of entity.relations) {
        if (!relation.many && !relation.cross) out.push({ name: gqlName(relation), detail: state.entities[relation.target].name, type: { t: 'filter', entity: relation.target } });
      }
      return out;
    }
    if (type.t === 'order') {
      const entity = state.entities[type.entity];
      return entity.properties.filter((p) => p.sortable && !p.complex).map((p) => ({ name: gqlName(p), detail: 'asc | desc', type: { t: 'direction' } }));
    }
    if (type.t === 'ops') {
      return operatorsOf(type.property).map((op) => ({ name: op, detail: type.property.gqlType, type: { t: 'value', property: type.property } }));
    }
    return [];
  }

  function valuesOf(type) {
    if (!type) return [];
    if (type.t === 'direction') return [{ name: 'asc', detail: 'ascending' }, { name: 'desc', detail: 'descending' }];
    if (type.t === 'value' && type.property.members) return type.property.members.map((m) => ({ name: m, detail: 'enum' }));
    if (type.t === 'value' && type.property.gqlType === 'Boolean') return [{ name: 'true', detail: 'Boolean' }, { name: 'false', detail: 'Boolean' }];
    return [];
  }

  /** What may be typed at the end of `text`: a list of {name, detail}. */
  function completionsAt(text) {
    const list = tokens(text).filter(([kind]) => kind !== 'space' && kind !== 'comment');
    // Stack frames: {kind:'select', type, last} | {kind:'args', args, key} | {kind:'object', type, key}
    //   | {kind:'list', type} | {kind:'vars'}.
    const stack = [{ kind: 'doc' }];
    const top = () => stack[stack.length - 1];
    let afterColon = false;
    let finished = false;
    for (let i = 0; i < list.length; i++) {
      const [kind, value] = list[i];
      const frame = top();
      const isLast = i === list.length - 1;
      if (kind === 'name' && isLast && !/\s$/.test(text)) break; // the word being typed
      if (kind === 'punct') {
        if (value === '{') {
          if (frame.kind === 'doc') stack.push({ kind: 'select', type: { t: 'query' } });
          else if (frame.kind === 'select') {
            const field = fieldsOf(frame.type).find((f) => f.name === frame.last);
            stack.push({ kind: 'select', type: field ? field.type : null });
          } else if (frame.kind === 'args' || frame.kind === 'object' || frame.kind === 'list') {
            stack.push({ kind: 'object', type: valueType(frame) });
          }
          afterColon = false;
        } else if (value === '}' || value === ')' || value === ']') {
          if (stack.length > 1) stack.pop();
          if (stack.length === 1 && value === '}') finished = true;
          afterColon = false;
        } else if (value === '(') {
          if (frame.kind === 'select') {
            const field = fieldsOf(frame.type).find((f) => f.name === frame.last);
            stack.push({ kind: 'args', args: field ? field.args : null });
          } else {
            stack.push({ kind: 'vars' });
          }
        } else if (value === '[') {
          stack.push({ kind: 'list', type: valueType(frame) });
        } else if (value === ':') {
          afterColon = true;
          if (frame.kind === 'select') frame.alias = true;
        } else if (value === ',') {
          afterColon = false;
        }
        continue;
      }
      if (kind === 'name') {
        if (frame.kind === 'select') {
          if (frame.alias) frame.alias = false;
          frame.last = value;
        } else if ((frame.kind === 'args' || frame.kind === 'object') && !afterColon) {
          frame.key = value;
        } else {
          afterColon = false;
        }
        if (frame.kind !== 'select' && afterColon) afterColon = false;
        continue;
      }
      if (afterColon) afterColon = false;
    }
    const frame = top();
    if (finished && stack.length === 1) return [];
    if (frame.kind === 'doc') return stack.length === 1 && !list.length ? [{ name: 'query', detail: 'operation' }] : [];
    if (frame.kind === 'select') return fieldsOf(frame.type);
    if (afterColon || frame.kind === 'list') return valuesOf(valueType(frame));
    if (frame.kind === 'args') return argumentsOf(frame.args);
    if (frame.kind === 'object') return keysOf(frame.type);
    return [];
  }

  /** The type of the value after `key:` in an argument list or input object. */
  function valueType(frame) {
    if (frame.kind === 'list') return frame.type;
    if (frame.kind === 'args') {
      const arg = argumentsOf(frame.args).find((a) => a.name === frame.key);
      return arg ? arg.type : null;
    }
    if (frame.kind === 'object') {
      const key = keysOf(frame.type).find((k) => k.name === frame.key);
      return key ? key.type : null;
    }
    return null;
  }

  const completion = { items: [], active: 0, start: 0 };

  function openCompletions(explicit) {
    const area = $('query');
    const cursor = area.selectionStart;
    const before = area.value.slice(0, cursor);
    const word = /[_A-Za-z][_0-9A-Za-z]*$/.exec(before);
    const prefix = word ? word[0] : '';
    if (!prefix && !explicit) return closeCompletions();
    const candidates = completionsAt(before);
    const lower = prefix.toLowerCase();
    const starts = candidates.filter((c) => c.name.toLowerCase().startsWith(lower));
    const contains = lower ? candidates.filter((c) => !c.name.toLowerCase().startsWith(lower) && c.name.toLowerCase().includes(lower)) : [];
    const items = [...starts, ...contains].slice(0, 60);
    if (!items.length || (items.length === 1 && items[0].name === prefix)) return closeCompletions();
    completion.items = items;
    completion.active = 0;
    completion.start = cursor - prefix.length;
    const box = $('completions');
    fill(box, ...items.map((item, index) => h('li', {
      role: 'option',
      class: index === 0 ? 'active' : '',
      dataset: { name: item.name },
      onmousedown: (event) => { event.preventDefault(); accept(index); },
    }, h('span', { text: item.name }), item.detail ? h('small', { text: shorten(item.detail, 40) }) : null)));
    const { x, y } = caretPosition(area, before);
    box.style.left = `${Math.max(0, x)}px`;
    box.style.top = `${y}px`;
    box.hidden = false;
  }

  function closeCompletions() {
    $('completions').hidden = true;
    completion.items = [];
  }

  function accept(index) {
    const item = completion.items[index];
    if (!item) return;
    const area = $('query');
    const end = area.selectionStart;
    area.setRangeText(item.name, completion.start, end, 'end');
    closeCompletions();
    paintEditor();
    area.focus();
  }

  let charWidth = 0;
  function caretPosition(area, before) {
    if (!charWidth) {
      const probe = h('span', { text: 'M'.repeat(40) });
      probe.style.font = getComputedStyle(area).font;
      probe.style.position = 'absolute';
      probe.style.visibility = 'hidden';
      probe.style.whiteSpace = 'pre';
      document.body.append(probe);
      charWidth = probe.getBoundingClientRect().width / 40;
      probe.remove();
    }
    const lines = before.split('\n');
    const style = getComputedStyle(area);
    const lineHeight = parseFloat(style.lineHeight) || 20;
    const x = parseFloat(style.paddingLeft) + lines[lines.length - 1].length * charWidth - area.scrollLeft;
    const y = parseFloat(style.paddingTop) + lines.length * lineHeight - area.scrollTop + 2;
    return { x, y };
  }

  function onEditorKey(event) {
    const box = $('completions');
    if (!box.hidden) {
      if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
        event.preventDefault();
        const count = completion.items.length;
        completion.active = (completion.active + (event.key === 'ArrowDown' ? 1 : count - 1)) % count;
        [...box.children].forEach((li, i) => li.classList.toggle('active', i === completion.active));
        box.children[completion.active].scrollIntoView({ block: 'nearest' });
        return;
      }
      if (event.key === 'Enter' || event.key === 'Tab') {
        event.preventDefault();
        accept(completion.active);
        return;
      }
      if (event.key === 'Escape') {
        event.preventDefault();
        closeCompletions();
        return;
      }
    }
    if (event.key === ' ' && event.ctrlKey) {
      event.preventDefault();
      openCompletions(true);
    } else if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      run();
    } else if (event.key === 'Tab') {
      event.preventDefault();
      $('query').setRangeText('  ', $('query').selectionStart, $('query').selectionEnd, 'end');
      paintEditor();
    }
  }

  function onEditorInput(event) {
    paintEditor();
    const typed = event.inputType === 'insertText' && /^[_A-Za-z0-9]$/.test(event.data || '');
    if (typed) openCompletions(false);
    else closeCompletions();
  }

  // ----- running -----

  const tryState = { entity: null, view: 'table', last: null };

  function resetTry(id) {
    tryState.entity = id;
    fill($('results'));
    $('result-json').textContent = '';
    fill($('requests'));
    $('run-status').textContent = '';
    $('variables').value = '';
    closeCompletions();
    if (state.entities[id].kind === 'contained') {
      setEditor('');
    } else {
      writeQuery(id);
    }
  }

  async function postJson(url, body) {
    const response = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
    });
    let json = null;
    try {
      json = await response.json();
    } catch {
      json = null;
    }
    return { status: response.status, json };
  }

  // The named operations of a document, each with where it starts: a top-level `query`,
  // `mutation` or `subscription` keyword followed by a name, read with the editor's tokenizer.
  function namedOperations(text) {
    const operations = [];
    let depth = 0;
    let offset = 0;
    const significant = [];
    for (const [kind, value] of tokens(text)) {
      if (kind !== 'space' && kind !== 'comment') significant.push({ kind, value, offset });
      offset += value.length;
    }
    for (let i = 0; i < significant.length; i++) {
      const { kind, value } = significant[i];
      if (value === '{' || value === '(') depth++;
      else if (value === '}' || value === ')') depth--;
      else if (depth === 0 && kind === 'name' && /^(query|mutation|subscription)$/.test(value)) {
        const next = significant[i + 1];
        if (next && next.kind === 'name') operations.push({ name: next.value, start: significant[i].offset });
      }
    }
    return operations;
  }

  // The operation to run when the document holds several: the one the cursor is in (the last
  // that starts before it), else the first. GraphQL needs operationName only then (spec 6.1).
  function operationAt(text, cursor) {
    const operations = namedOperations(text);
    if (operations.length < 2) return null;
    let chosen = operations[0];
    for (const operation of operations) if (operation.start <= cursor) chosen = operation;
    return chosen.name;
  }

  let runCounter = 0;
  async function run() {
    const query = $('query').value;
    let variables = null;
    const variablesText = $('variables').value.trim();
    if (variablesText) {
      try {
        variables = JSON.parse(variablesText);
      } catch (error) {
        $('run-status').textContent = `Variables are not JSON: ${error.message}`;
        return;
      }
    }
    const body = { query, variables };
    const operationName = operationAt(query, $('query').selectionStart);
    if (operationName) body.operationName = operationName;
    const run = ++runCounter;
    document.documentElement.dataset.run = 'running';
    $('run-status').textContent = 'Running…';
    const started = performance.now();
    const [answer, plan] = await Promise.all([postJson('graphql', body), postJson('explorer/api/plan', body)]);
    if (run !== runCounter) return;
    const took = Math.round(performance.now() - started);
    renderRequests(plan);
    renderAnswer(answer, took);
    document.documentElement.dataset.run = String(run);
  }

  function renderRequests(plan) {
    const box = $('requests');
    if (plan.status !== 200 || !plan.json) {
      const message = plan.json && plan.json.error ? plan.json.error.message : `HTTP ${plan.status}`;
      fill(box, h('div', { class: 'read' }, h('span', { class: 'note', text: `No plan: ${message}` })));
      return;
    }
    fill(box, h('h3', { text: 'Requests' }), ...plan.json.reads.map((read) => h('div', { class: 'read', dataset: { path: read.path || '' } },
      h('div', { class: 'read-title', text: `${read.path || `${read.namespace}.${read.entity}`}` }),
      read.requests.map((request) => {
        const line = h('div', { class: 'backend', dataset: { url: request.url, destination: request.destination, namespace: request.namespace } },
          '  '.repeat(request.depth),
          request.join ? h('span', { class: 'note', text: `join ${request.join}: ` }) : null,
          h('span', { class: 'dest', text: `[${request.namespace}] ${request.destination} (${request.dialect}) ` }),
          h('span', { class: 'method', text: `${request.method} ` }),
          h('span', { class: 'backend-url', text: decode(request.url) }));
        line.style.paddingLeft = `${request.depth * 1.2}rem`;
        return line;
      }),
      read.odata ? h('div', { class: 'gateway' }, h('b', { text: 'OData v4: ' }),
        h('a', { class: 'odata-url', href: read.odata, target: '_blank', rel: 'noopener', dataset: { url: read.odata }, text: decode(read.odata) })) : null,
      read.note ? h('div', { class: 'note', text: read.note }) : null)),
    plan.json.errors.length ? h('ul', { class: 'errors' }, plan.json.errors.map((e) => h('li', { text: e }))) : null);
  }

  const decode = (url) => {
    try {
      return decodeURIComponent(url);
    } catch {
      return url;
    }
  };

  function renderAnswer(answer, took) {
    const results = $('results');
    const json = $('result-json');
    tryState.last = answer.json;
    json.textContent = answer.json ? JSON.stringify(answer.json, null, 2) : `HTTP ${answer.status}`;
    const parts = [];
    if (!answer.json || answer.status !== 200) {
      const message = answer.json && answer.json.error ? answer.json.error.message : `HTTP ${answer.status}`;
      parts.push(h('ul', { class: 'errors' }, h('li', { text: message })));
    } else {
      const { data, errors } = answer.json;
      if (errors && errors.length) {
        parts.push(h('ul', { class: 'errors' }, errors.map((error) => h('li', { text: `${error.message}${error.extensions && error.extensions.code ? ` (${error.extensions.code})` : ''}${error.path ? ` at ${error.path.join('.')}` : ''}` }))));
      }
      for (const [path, value] of roots(data)) parts.push(...table(path, value));
    }
    fill(results, ...parts);
    $('run-status').textContent = `HTTP ${answer.status} · ${took} ms`;
    showResultView(tryState.view);
  }

  /** The root reads of an answer: [["crm.Opportunities", value], ...]. */
  function roots(data) {
    const out = [];
    if (!data || typeof data !== 'object') return out;
    for (const [nsKey, nsValue] of Object.entries(data)) {
      if (nsValue && typeof nsValue === 'object' && !Array.isArray(nsValue)) {
        for (const [key, value] of Object.entries(nsValue)) out.push([`${nsKey}.${key}`, value]);
      } else {
        out.push([nsKey, nsValue]);
      }
    }
    return out;
  }

  /** A result as a table: connection nodes (or one entity) flattened to columns. */
  function table(path, value) {
    let rows;
    let caption;
    if (value && typeof value === 'object' && Array.isArray(value.nodes)) {
      rows = value.nodes;
      caption = `${rows.length} rows${typeof value.totalCount === 'number' ? ` of ${value.totalCount}` : ''}`;
    } else if (Array.isArray(value)) {
      rows = value;
      caption = `${rows.length} rows`;
    } else if (value && typeof value === 'object') {
      rows = [value];
      caption = '1 row';
    } else {
      return [h('h3', { text: `${path}: ${value === null ? 'null' : JSON.stringify(value)}` })];
    }
    const flat = rows.map((row) => flatten(row));
    const columns = [];
    for (const row of flat) for (const key of Object.keys(row)) if (!columns.includes(key)) columns.push(key);
    return [h('h3', { text: `${path} · ${caption}` }),
      h('table', { class: 'grid results', dataset: { path } },
        h('thead', null, h('tr', null, columns.map((c) => h('th', { text: c })))),
        h('tbody', null, flat.map((row) => h('tr', null, columns.map((c) => {
          const cell = row[c];
          return cell === null || cell === undefined ? h('td', { class: 'null', text: '' }) : h('td', { text: cell });
        })))))];
  }

  function flatten(row, prefix = '', out = {}) {
    if (row === null || typeof row !== 'object') {
      out[prefix || 'value'] = row === null ? null : String(row);
      return out;
    }
    for (const [key, value] of Object.entries(row)) {
      const name = prefix ? `${prefix}.${key}` : key;
      if (value === null || value === undefined) out[name] = null;
      else if (Array.isArray(value)) out[name] = JSON.stringify(value);
      else if (typeof value === 'object' && Array.isArray(value.nodes)) {
        out[name] = `${value.nodes.length} items${typeof value.totalCount === 'number' ? ` of ${value.totalCount}` : ''}`;
      } else if (typeof value === 'object') flatten(value, name, out);
      else out[name] = String(value);
    }
    return out;
  }

  function showResultView(view) {
    tryState.view = view;
    $('results').hidden = view !== 'table';
    $('result-json').hidden = view !== 'json';
    $('show-table').classList.toggle('active', view === 'table');
    $('show-json').classList.toggle('active', view === 'json');
  }

  // ----- wiring -----

  function wire() {
    $('search').addEventListener('input', onSearchInput);
    $('search').addEventListener('keydown', onSearchKey);
    let scheduled = false;
    $('entity-list').addEventListener('scroll', () => {
      if (scheduled) return;
      scheduled = true;
      requestAnimationFrame(() => { scheduled = false; paintRows(); });
    }, { passive: true });
    window.addEventListener('resize', () => paintRows());
    const area = $('query');
    area.addEventListener('input', onEditorInput);
    area.addEventListener('keydown', onEditorKey);
    area.addEventListener('scroll', syncScroll);
    area.addEventListener('blur', () => setTimeout(closeCompletions, 150));
    area.addEventListener('click', closeCompletions);
    $('run').addEventListener('click', run);
    $('variables').addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) { event.preventDefault(); run(); }
    });
    $('show-table').addEventListener('click', (event) => { event.preventDefault(); showResultView('table'); });
    $('show-json').addEventListener('click', (event) => { event.preventDefault(); showResultView('json'); });
  }

  // The script is deferred: the document is parsed.
  wire();
  load();
})();
