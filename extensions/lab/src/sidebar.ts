import { Widget } from '@lumino/widgets';

import { requestAPI, WorkbenchAPIError } from './handler';

/** One catalog entry, as GET /workbench/api/catalog sends it. */
export interface IPlaybookRow {
  id: string;
  title: string;
  version: string;
  summary: string;
  audience: string[];
  estimated_minutes: number | null;
  skills: Record<string, number>;
  tasks: { id: string; title: string; done: string }[];
  started: boolean;
}

interface ICatalog {
  playbooks: IPlaybookRow[];
  skills: { id: string; name: string }[];
  roles: { id: string; name: string }[];
  broken: { folder: string; message: string; hint: string | null }[];
}

interface ITaskProgress {
  id: string;
  title: string;
  status: string;
  attempts: number;
  score: number | null;
  passed: boolean | null;
}

/** A learner's progress in one playbook. */
export interface IProgress {
  playbook: string;
  title: string;
  completed: number;
  total: number;
  done: boolean;
  next_task: string | null;
  tasks: ITaskProgress[];
  workspace: { started: boolean; path: string | null; run_id: string | null };
}

interface IStart {
  playbook: string;
  status: 'started' | 'resumed';
  path: string;
  notices: string[];
}

/** One team x skill cell of the manager report (GET /workbench/api/report). */
interface IReportCell {
  team: string;
  skill: string;
  level: number | null;
  target: number | null;
  gap: number | null;
  team_size: number | null;
  learners: number | null;
  suppressed: boolean;
  reason: string;
}

interface IReport {
  summary: any;
  teams: IReportCell[];
  skills: string[];
  skill_names: Record<string, string>;
  all_team: string;
  min_group_size: number;
  suppressed_label: string;
  suppressed_teams: string[];
}

/** The evidence behind one cell (GET /workbench/api/report/evidence). */
interface IEvidence {
  team: string;
  skill: string;
  skill_name: string;
  suppressed: boolean;
  suppressed_label: string;
  n: number;
  items: {
    event_id: string;
    time: string | null;
    learner: string;
    playbook: string | null;
    task: string | null;
    source: string | null;
    scorer: string | null;
    criterion: string | null;
    outcome: number | null;
  }[];
}

interface IMe {
  learner: string;
  name: string;
  manager: boolean;
  role: string | null;
}

/** What the sidebar needs from the application. */
export interface ISidebarOptions {
  openPath: (path: string) => Promise<void>;
  settings: () => { pollInterval: number; defaultRole: string; parameters: Record<string, any> };
}

const STATUS_GLYPH: Record<string, string> = {
  completed: '✓',
  failed: '✗',
  in_progress: '…',
  not_started: '○'
};

const CURRENT_KEY = 'workbench-lab:current-playbook';

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { className?: string; text?: string; attrs?: Record<string, string> } = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.className) {
    node.className = props.className;
  }
  if (props.text !== undefined) {
    node.textContent = props.text;
  }
  for (const [k, v] of Object.entries(props.attrs || {})) {
    node.setAttribute(k, v);
  }
  for (const child of children) {
    node.append(child);
  }
  return node;
}

/**
 * The Workbench left sidebar: catalog (filter by skill and role), start/resume, the current playbook's
 * checklist with live status, the learner's skills and, for managers, the team report.
 */
export class WorkbenchSidebar extends Widget {
  constructor(private readonly options: ISidebarOptions) {
    super();
    this.id = 'workbench-sidebar';
    this.addClass('wb-Sidebar');
    this.title.caption = 'Workbench: playbooks, progress and skills';

    const header = el('div', { className: 'wb-Header' }, el('h2', { text: 'Workbench' }));
    this.messageNode = el('div', { className: 'wb-Message', attrs: { role: 'alert', 'aria-live': 'polite' } });
    this.skillSelect = el('select', { className: 'wb-FilterSkill', attrs: { 'aria-label': 'Filter by skill' } });
    this.roleSelect = el('select', { className: 'wb-FilterRole', attrs: { 'aria-label': 'Filter by role' } });
    this.skillSelect.addEventListener('change', () => void this.refreshCatalog());
    this.roleSelect.addEventListener('change', () => void this.refreshCatalog());
    const filters = el(
      'div',
      { className: 'wb-Filters' },
      el('label', { text: 'Skill ' }, this.skillSelect),
      el('label', { text: 'Role ' }, this.roleSelect)
    );
    this.catalogNode = el('ul', { className: 'wb-Catalog' });
    this.currentNode = el('div', { className: 'wb-Current' });
    this.skillsNode = el('div', { className: 'wb-Skills' });
    this.reportNode = el('div', { className: 'wb-Report' });
    const reportRefresh = el('button', { className: 'wb-Button wb-RefreshReport', text: 'Refresh' });
    reportRefresh.addEventListener('click', () => void this.refreshReport());
    this.reportSection = el(
      'section',
      { className: 'wb-Section wb-ReportSection', attrs: { hidden: '' } },
      el('h3', { text: 'Team skills-gap report ' }, reportRefresh),
      this.reportNode
    );
    const skillsRefresh = el('button', { className: 'wb-Button wb-RefreshSkills', text: 'Refresh' });
    skillsRefresh.addEventListener('click', () => void this.refreshSkills());

    this.node.append(
      header,
      this.messageNode,
      el(
        'section',
        { className: 'wb-Section wb-CurrentSection' },
        el('h3', { text: 'Current playbook' }),
        this.currentNode
      ),
      el('section', { className: 'wb-Section wb-CatalogSection' }, el('h3', { text: 'Playbooks' }), filters, this.catalogNode),
      el('section', { className: 'wb-Section wb-SkillsSection' }, el('h3', { text: 'My skills ' }, skillsRefresh), this.skillsNode),
      this.reportSection
    );
    this.currentId = window.localStorage.getItem(CURRENT_KEY);
    this.renderCurrent(null);
  }

  /** Load everything (called when the sidebar is first shown and by the refresh command). */
  async refreshAll(): Promise<void> {
    await this.loadMe();
    await this.refreshCatalog();
    await this.refreshProgress();
    await this.refreshSkills();
    if (this.me && this.me.manager) {
      await this.refreshReport();
    }
  }

  /** Start or resume a playbook, open its notebook and follow its progress. */
  async start(playbookId: string): Promise<void> {
    this.showMessage(`Preparing ${playbookId}…`, 'info');
    try {
      const parameters = (this.options.settings().parameters || {})[playbookId] || {};
      const result = await requestAPI<IStart>(`playbooks/${encodeURIComponent(playbookId)}/start`, {
        method: 'POST',
        body: JSON.stringify({ parameters })
      });
      this.setCurrent(result.playbook);
      const verb = result.status === 'started' ? 'Started' : 'Resumed';
      this.showMessage([`${verb} ${result.playbook}: ${result.path}`, ...result.notices].join('\n'), result.notices.length ? 'warning' : 'info');
      await this.options.openPath(result.path);
      await this.refreshProgress();
      void this.refreshCatalog();
    } catch (error) {
      this.showError(error, `Could not start ${playbookId}`);
    }
  }

  /** Poll the current playbook's progress. */
  async refreshProgress(): Promise<void> {
    if (!this.currentId) {
      this.renderCurrent(null);
      return;
    }
    try {
      const progress = await requestAPI<IProgress>(`playbooks/${encodeURIComponent(this.currentId)}/progress`);
      if (this.lostContact) {
        this.lostContact = false;
        this.showMessage('Reconnected to the Jupyter server; progress is up to date.', 'info');
      }
      this.renderCurrent(progress);
      if (this.lastCompleted !== null && progress.completed !== this.lastCompleted) {
        void this.refreshSkills(); // new evidence: the skills view follows
      }
      this.lastCompleted = progress.completed;
    } catch (error) {
      if (error instanceof WorkbenchAPIError && error.code === 'network') {
        this.lostContact = true;
      }
      if (error instanceof WorkbenchAPIError && error.code === 'corrupted_progress_record') {
        this.renderRepair(this.currentId);
      }
      if (error instanceof WorkbenchAPIError && error.code === 'not_found') {
        this.setCurrent(null); // the playbook is gone (uninstalled or renamed): stop polling it
      }
      this.showError(error, 'Progress is not available');
    }
  }

  async refreshCatalog(): Promise<void> {
    const query = new URLSearchParams();
    if (this.skillSelect.value) {
      query.set('skill', this.skillSelect.value);
    }
    const role = this.roleSelect.value;
    if (role) {
      query.set('role', role);
    }
    try {
      const catalog = await requestAPI<ICatalog>('catalog' + (query.toString() ? '?' + query : ''));
      this.fillFilters(catalog);
      this.renderCatalog(catalog);
    } catch (error) {
      this.showError(error, 'The playbook catalog could not be loaded');
    }
  }

  async refreshSkills(): Promise<void> {
    try {
      const data = await requestAPI<{ skills: any[]; messages: string[] }>('skills');
      this.skillsNode.replaceChildren();
      if (!data.skills.length) {
        this.skillsNode.append(
          el('p', { className: 'wb-Empty', text: 'No evidence yet: finish playbook tasks to see your skills here.' })
        );
        return;
      }
      const table = el('table', { className: 'wb-SkillsTable' });
      table.append(el('tr', {}, el('th', { text: 'Skill' }), el('th', { text: 'Level' }), el('th', { text: 'Target' }), el('th', { text: 'Gap' })));
      for (const row of data.skills) {
        const fmt = (v: any) => (typeof v === 'number' ? v.toFixed(1) : '–');
        table.append(
          el('tr', { attrs: { 'data-skill': String(row.skill) } }, el('td', { text: String(row.name) }), el('td', { text: fmt(row.level) }), el('td', { text: fmt(row.target) }), el('td', { text: fmt(row.gap) }))
        );
      }
      this.skillsNode.append(table);
    } catch (error) {
      this.showError(error, 'Your skills could not be loaded');
    }
  }

  /** The manager's view: teams x skills heatmap (small groups suppressed), largest gaps, drill-down. */
  async refreshReport(): Promise<void> {
    try {
      const data = await requestAPI<IReport>('report');
      this.reportNode.replaceChildren();
      const counts = data.summary.counts || {};
      this.reportNode.append(
        el('p', { className: 'wb-ReportCounts', text: `${counts.learners ?? 0} learners, ${counts.events ?? 0} events.` })
      );
      for (const message of data.summary.messages || []) {
        this.reportNode.append(el('p', { className: 'wb-Note', text: message }));
      }
      if (data.teams.length) {
        this.reportNode.append(
          el('p', {
            className: 'wb-Legend',
            text: 'Mean level (0-4) per team and skill; red: below the role target, green: at or above it. ' +
              `Teams under ${data.min_group_size} people are ${data.suppressed_label}. Click a cell for its evidence.`
          }),
          el('div', { className: 'wb-HeatmapBox' }, this.renderHeatmap(data))
        );
      }
      this.drillNode = el('div', { className: 'wb-Drill', attrs: { 'aria-live': 'polite' } });
      this.reportNode.append(this.drillNode);
      const gaps: any[] = data.summary.largest_gaps || [];
      if (gaps.length) {
        const list = el('ol', { className: 'wb-Gaps' });
        for (const g of gaps) {
          const name = data.skill_names[g.skill] || g.skill;
          list.append(el('li', { text: `${name}: mean gap ${g.mean_gap} (level ${g.mean_level})` }));
        }
        this.reportNode.append(el('p', { text: 'Largest gaps across teams:' }), list);
      }
    } catch (error) {
      this.showError(error, 'The team report could not be loaded');
    }
  }

  /** Skills (rows) x teams (columns): fits the narrow sidebar better than teams x skills. */
  private renderHeatmap(data: IReport): HTMLTableElement {
    const teams: string[] = [];
    const cells = new Map<string, IReportCell>();
    for (const row of data.teams) {
      if (!teams.includes(row.team)) {
        teams.push(row.team);
      }
      cells.set(`${row.team}\u0000${row.skill}`, row);
    }
    const suppressedTeams = new Set(data.suppressed_teams);
    const label = (team: string) => (team === data.all_team ? 'all teams' : team);
    const head = el('tr', {}, el('th', { text: 'Skill' }));
    for (const team of teams) {
      const size = data.teams.find(r => r.team === team && r.team_size !== null)?.team_size;
      const sub = suppressedTeams.has(team) ? data.suppressed_label : size ? `n=${size}` : '';
      head.append(
        el(
          'th',
          {
            className: suppressedTeams.has(team) ? 'wb-HeatTeam wb-Suppressed' : 'wb-HeatTeam',
            attrs: { 'data-team': team, scope: 'col' }
          },
          el('span', { className: 'wb-HeatTeamName', text: label(team) }),
          el('small', { text: sub })
        )
      );
    }
    const body = el('tbody');
    for (const skill of data.skills) {
      const name = data.skill_names[skill] || skill;
      const tr = el('tr', { attrs: { 'data-skill': skill } }, el('th', { text: name, attrs: { scope: 'row' } }));
      for (const team of teams) {
        tr.append(this.heatCell(cells.get(`${team}\u0000${skill}`), team, skill, name, label(team), data.suppressed_label));
      }
      body.append(tr);
    }
    return el('table', { className: 'wb-Heatmap' }, el('thead', {}, head), body);
  }

  private heatCell(
    row: IReportCell | undefined,
    team: string,
    skill: string,
    skillName: string,
    teamLabel: string,
    suppressedLabel: string
  ): HTMLTableCellElement {
    const attrs: Record<string, string> = { 'data-team': team, 'data-skill': skill };
    if (!row) {
      return el('td', { className: 'wb-HeatCell wb-NoEvidence', text: '·', attrs: { ...attrs, title: `${teamLabel} · ${skillName}: no evidence` } });
    }
    if (row.suppressed || row.level === null) {
      const why = row.suppressed ? suppressedLabel : 'no evidence';
      return el('td', {
        className: 'wb-HeatCell wb-Suppressed',
        text: '–',
        attrs: { ...attrs, 'data-suppressed': 'true', title: `${teamLabel} · ${skillName}: ${why}` }
      });
    }
    const fmt = (v: number | null) => (v === null || v === undefined ? '–' : v.toFixed(1));
    const title =
      `${teamLabel} · ${skillName}: level ${fmt(row.level)}, target ${fmt(row.target)}, gap ${fmt(row.gap)}` +
      (row.learners ? ` · ${row.learners} learners` : '');
    const cell = el('td', {
      className: 'wb-HeatCell',
      text: fmt(row.level),
      attrs: { ...attrs, 'data-level': String(row.level), title, tabindex: '0', role: 'button' }
    });
    if (row.gap !== null && row.gap !== undefined) {
      cell.dataset.gap = String(row.gap);
      cell.style.background =
        row.gap > 0
          ? `rgba(214, 39, 40, ${(0.15 + 0.55 * Math.min(row.gap / 2, 1)).toFixed(2)})`
          : 'rgba(44, 160, 44, 0.35)';
    }
    const open = () => void this.drill(cell, team, skill, teamLabel);
    cell.addEventListener('click', open);
    cell.addEventListener('keydown', event => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        open();
      }
    });
    return cell;
  }

  /** The evidence behind one heatmap cell, newest first. */
  private async drill(cell: HTMLElement, team: string, skill: string, teamLabel: string): Promise<void> {
    for (const selected of Array.from(this.reportNode.querySelectorAll('.wb-HeatCell.wb-Selected'))) {
      selected.classList.remove('wb-Selected');
    }
    cell.classList.add('wb-Selected');
    const drill = this.drillNode;
    drill.dataset.team = team;
    drill.dataset.skill = skill;
    drill.replaceChildren(el('p', { className: 'wb-Empty', text: 'Loading the evidence…' }));
    try {
      const query = new URLSearchParams({ team, skill });
      const data = await requestAPI<IEvidence>('report/evidence?' + query.toString());
      const close = el('button', { className: 'wb-Button wb-CloseDrill', text: 'Close', attrs: { 'aria-label': 'Close the evidence' } });
      close.addEventListener('click', () => {
        drill.replaceChildren();
        cell.classList.remove('wb-Selected');
      });
      const shown = data.items.length < data.n ? ` (latest ${data.items.length})` : '';
      drill.replaceChildren(
        el('div', { className: 'wb-DrillTitle', text: `${teamLabel} · ${data.skill_name}: ${data.n} evidence items${shown}` }, close)
      );
      if (data.suppressed) {
        drill.append(el('p', { className: 'wb-Note', text: `${data.suppressed_label}: no drill-down for small groups.` }));
        return;
      }
      const table = el('table', { className: 'wb-EvidenceTable' });
      table.append(el('tr', {}, el('th', { text: 'When' }), el('th', { text: 'Playbook · task' }), el('th', { text: 'Evidence' }), el('th', { text: 'Score' })));
      for (const item of data.items) {
        const what = [item.source, item.scorer, item.criterion].filter(Boolean).join(' · ');
        table.append(
          el(
            'tr',
            { className: 'wb-EvidenceItem', attrs: { 'data-event-id': item.event_id, title: `learner ${item.learner}` } },
            el('td', { text: item.time ? item.time.slice(0, 10) : '–' }),
            el('td', { text: [item.playbook, item.task].filter(Boolean).join(' · ') || '–' }),
            el('td', { text: what || '–' }),
            el('td', { text: item.outcome === null || item.outcome === undefined ? '–' : item.outcome.toFixed(2) })
          )
        );
      }
      drill.append(table);
    } catch (error) {
      drill.replaceChildren();
      this.showError(error, 'The evidence could not be loaded');
    }
  }

  /** The id of the playbook being followed. */
  get current(): string | null {
    return this.currentId;
  }

  dispose(): void {
    this.stopPolling();
    super.dispose();
  }

  protected onAfterShow(): void {
    this.startPolling();
  }

  protected onAfterHide(): void {
    this.stopPolling();
  }

  private startPolling(): void {
    this.stopPolling();
    const seconds = Math.max(1, this.options.settings().pollInterval || 3);
    this.timer = window.setInterval(() => void this.refreshProgress(), seconds * 1000);
  }

  private stopPolling(): void {
    if (this.timer !== null) {
      window.clearInterval(this.timer);
      this.timer = null;
    }
  }

  private async loadMe(): Promise<void> {
    try {
      this.me = await requestAPI<IMe>('me');
      if (this.me.manager) {
        this.reportSection.removeAttribute('hidden');
      } else {
        this.reportSection.setAttribute('hidden', '');
      }
      const role = this.options.settings().defaultRole || this.me.role;
      if (role && !this.roleSelect.value) {
        this.pendingRole = role;
      }
    } catch (error) {
      this.showError(error, 'Workbench could not identify you');
    }
  }

  private setCurrent(id: string | null): void {
    this.currentId = id;
    if (id) {
      window.localStorage.setItem(CURRENT_KEY, id);
    } else {
      window.localStorage.removeItem(CURRENT_KEY);
    }
  }

  private fillFilters(catalog: ICatalog): void {
    if (this.skillSelect.options.length === 0) {
      this.skillSelect.append(el('option', { text: 'any skill', attrs: { value: '' } }));
      for (const s of catalog.skills) {
        this.skillSelect.append(el('option', { text: s.name, attrs: { value: s.id } }));
      }
    }
    if (this.roleSelect.options.length === 0) {
      this.roleSelect.append(el('option', { text: 'any role', attrs: { value: '' } }));
      for (const r of catalog.roles) {
        this.roleSelect.append(el('option', { text: r.name, attrs: { value: r.id } }));
      }
      if (this.pendingRole) {
        this.roleSelect.value = this.pendingRole;
        this.pendingRole = null;
      }
    }
  }

  private renderCatalog(catalog: ICatalog): void {
    this.catalogNode.replaceChildren();
    if (!catalog.playbooks.length) {
      this.catalogNode.append(el('li', { className: 'wb-Empty', text: 'No playbook matches these filters.' }));
    }
    for (const pb of catalog.playbooks) {
      const button = el('button', {
        className: 'wb-Button wb-StartButton jp-mod-styled jp-mod-accept',
        text: pb.started ? 'Resume' : 'Start',
        attrs: { 'data-playbook-id': pb.id }
      });
      button.addEventListener('click', () => void this.start(pb.id));
      const skills = el('div', { className: 'wb-Chips' });
      for (const skill of Object.keys(pb.skills)) {
        skills.append(el('span', { className: 'wb-Chip', text: skill }));
      }
      const minutes = pb.estimated_minutes ? ` · ${pb.estimated_minutes} min` : '';
      this.catalogNode.append(
        el(
          'li',
          { className: 'wb-PlaybookCard', attrs: { 'data-playbook-id': pb.id } },
          el('div', { className: 'wb-CardTitle', text: pb.title }),
          el('div', { className: 'wb-CardMeta', text: `${pb.tasks.length} tasks${minutes} · v${pb.version}` }),
          el('p', { className: 'wb-CardSummary', text: pb.summary }),
          skills,
          button
        )
      );
    }
    for (const broken of catalog.broken) {
      this.catalogNode.append(
        el('li', { className: 'wb-Broken', text: `${broken.folder}: ${broken.message}${broken.hint ? ' (' + broken.hint + ')' : ''}` })
      );
    }
  }

  private renderCurrent(progress: IProgress | null): void {
    this.currentNode.replaceChildren();
    if (!progress) {
      this.currentNode.append(el('p', { className: 'wb-Empty', text: 'Start a playbook below; its tasks appear here.' }));
      return;
    }
    const pct = progress.total ? Math.round((100 * progress.completed) / progress.total) : 0;
    const bar = el('div', { className: 'wb-Bar', attrs: { role: 'progressbar', 'aria-valuenow': String(pct), 'aria-valuemin': '0', 'aria-valuemax': '100' } }, el('div', { className: 'wb-BarFill' }));
    (bar.firstChild as HTMLElement).style.width = `${pct}%`;
    const list = el('ul', { className: 'wb-Checklist' });
    for (const t of progress.tasks) {
      const score = t.score !== null && t.score !== undefined ? ` · score ${t.score.toFixed(2)}` : '';
      list.append(
        el(
          'li',
          { className: `wb-Task wb-Task-${t.status}`, attrs: { 'data-task-id': t.id, 'data-status': t.status } },
          el('span', { className: 'wb-TaskGlyph', text: STATUS_GLYPH[t.status] || '?' }),
          el('span', { className: 'wb-TaskTitle', text: t.title + score })
        )
      );
    }
    const open = el('button', { className: 'wb-Button wb-OpenButton', text: progress.workspace.started ? 'Open notebook' : 'Start' });
    open.addEventListener('click', () => void this.start(progress.playbook));
    this.currentNode.append(
      el('div', { className: 'wb-CurrentTitle', text: progress.title }),
      el('div', { className: 'wb-ProgressText', text: `${progress.completed} / ${progress.total} tasks done${progress.done ? ' 🎉' : ''}` }),
      bar,
      list,
      open
    );
  }

  private renderRepair(playbookId: string | null): void {
    if (!playbookId) {
      return;
    }
    this.currentNode.replaceChildren();
    const repair = el('button', { className: 'wb-Button wb-OpenButton', text: 'Repair and resume' });
    repair.addEventListener('click', () => void this.start(playbookId));
    this.currentNode.append(
      el('p', { className: 'wb-Note', text: `The progress record of ${playbookId} needs repair; your notebook is safe.` }),
      repair
    );
  }

  private showMessage(text: string, kind: 'info' | 'warning' | 'error'): void {
    this.messageNode.textContent = text;
    this.messageNode.dataset.kind = kind;
    delete this.messageNode.dataset.error;
  }

  private showError(error: unknown, context: string): void {
    if (error instanceof WorkbenchAPIError) {
      const hint = error.hint ? `\nHint: ${error.hint}` : '';
      this.showMessage(`${context}: ${error.message}${hint}`, error.code === 'network' ? 'warning' : 'error');
      this.messageNode.dataset.error = error.code;
    } else {
      this.showMessage(`${context}: ${String(error)}`, 'error');
    }
  }

  private readonly messageNode: HTMLDivElement;
  private readonly skillSelect: HTMLSelectElement;
  private readonly roleSelect: HTMLSelectElement;
  private readonly catalogNode: HTMLUListElement;
  private readonly currentNode: HTMLDivElement;
  private readonly skillsNode: HTMLDivElement;
  private readonly reportNode: HTMLDivElement;
  private readonly reportSection: HTMLElement;
  private drillNode: HTMLDivElement = document.createElement('div');
  private currentId: string | null = null;
  private me: IMe | null = null;
  private pendingRole: string | null = null;
  private lostContact = false;
  private lastCompleted: number | null = null;
  private timer: number | null = null;
}
