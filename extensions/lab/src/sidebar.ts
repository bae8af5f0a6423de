import { Widget } from '@lumino/widgets';

import { button, el, fmt, select } from './dom';
import { requestAPI, WorkbenchAPIError } from './handler';
import { ICatalog, IMe, IProgress, IReport, IStart } from './types';

/** What the sidebar needs from the application. */
export interface ISidebarOptions {
  openPath: (path: string) => Promise<void>;
  settings: () => { pollInterval: number; defaultRole: string; parameters: Record<string, any> };
  /** Open the team skills-gap heatmap in the main area. */
  openReport: () => void;
  /** Remember the followed playbook across page reloads (JupyterLab's state database). */
  saveCurrent: (id: string | null) => void;
}

/** How long a success message stays before it fades (errors and warnings stay until dismissed). */
const INFO_MS = 8000;

const STATUS_GLYPH: Record<string, string> = {
  completed: '✓',
  failed: '✗',
  in_progress: '…',
  not_started: '○'
};

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
    this.messageText = el('span', { className: 'wb-MessageText' });
    const dismiss = button('×', 'wb-DismissMessage', () => this.clearMessage(), {
      small: true,
      attrs: { 'aria-label': 'Dismiss this message', title: 'Dismiss' }
    });
    this.messageNode = el('div', { className: 'wb-Message', attrs: { role: 'alert', 'aria-live': 'polite' } }, this.messageText, dismiss);
    this.skillSelect = select('wb-FilterSkill', 'Filter by skill');
    this.roleSelect = select('wb-FilterRole', 'Filter by role');
    this.skillSelect.addEventListener('change', () => void this.refreshCatalog());
    this.roleSelect.addEventListener('change', () => void this.refreshCatalog());
    const filters = el(
      'div',
      { className: 'wb-Filters' },
      el('label', { className: 'wb-Field', text: 'Skill' }, this.skillSelect),
      el('label', { className: 'wb-Field', text: 'Role' }, this.roleSelect)
    );
    this.catalogNode = el('ul', { className: 'wb-Catalog' });
    this.currentNode = el('div', { className: 'wb-Current' });
    this.skillsNode = el('div', { className: 'wb-Skills' });
    this.reportNode = el('div', { className: 'wb-Report' });
    const heading = (text: string, action?: HTMLElement) =>
      el('div', { className: 'wb-SectionHeader' }, el('h3', { text }), ...(action ? [action] : []));
    this.reportSection = el(
      'section',
      { className: 'wb-Section wb-ReportSection', attrs: { hidden: '' } },
      heading('Team skills-gap report', button('Refresh', 'wb-RefreshReport', () => void this.refreshReport(), { small: true })),
      this.reportNode
    );
    const skillsRefresh = button('Refresh', 'wb-RefreshSkills', () => void this.refreshSkills(), { small: true });

    this.node.append(
      header,
      this.messageNode,
      el('section', { className: 'wb-Section wb-CurrentSection' }, heading('Current playbook'), this.currentNode),
      el('section', { className: 'wb-Section wb-CatalogSection' }, heading('Playbooks'), filters, this.catalogNode),
      el('section', { className: 'wb-Section wb-SkillsSection' }, heading('My skills', skillsRefresh), this.skillsNode),
      this.reportSection
    );
    this.renderCurrent(null);
  }

  /** Follow ``id`` again after a page reload (from JupyterLab's state database), before the first load. */
  restoreCurrent(id: string | null): void {
    if (id && !this.currentId) {
      this.currentId = id;
    }
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
        table.append(
          el('tr', { attrs: { 'data-skill': String(row.skill) } }, el('td', { text: String(row.name) }), el('td', { text: fmt(row.level) }), el('td', { text: fmt(row.target) }), el('td', { text: fmt(row.gap) }))
        );
      }
      this.skillsNode.append(table);
    } catch (error) {
      this.showError(error, 'Your skills could not be loaded');
    }
  }

  /** The manager's summary: counts, the largest gaps and the button that opens the full heatmap. */
  async refreshReport(): Promise<void> {
    try {
      const data = await requestAPI<IReport>('report');
      const counts = data.summary.counts || {};
      const open = button('Open team heatmap', 'wb-OpenReport', () => this.options.openReport(), { primary: true });
      this.reportNode.replaceChildren(
        el('p', { className: 'wb-ReportCounts', text: `${counts.learners ?? 0} learners, ${counts.events ?? 0} events.` })
      );
      for (const message of data.summary.messages || []) {
        this.reportNode.append(el('p', { className: 'wb-Note', text: message }));
      }
      const gaps: any[] = (data.summary.largest_gaps || []).slice(0, 3);
      if (gaps.length) {
        const list = el('ol', { className: 'wb-Gaps' });
        for (const g of gaps) {
          const name = data.skill_names[g.skill] || g.skill;
          list.append(
            el('li', { attrs: { 'data-skill': g.skill } }, el('span', { text: name }), el('span', { className: 'wb-GapValue', text: `gap ${fmt(g.mean_gap)} (level ${fmt(g.mean_level)})` }))
          );
        }
        this.reportNode.append(el('p', { className: 'wb-Subtle', text: 'Largest gaps to role targets, across teams:' }), list);
      } else {
        this.reportNode.append(el('p', { className: 'wb-Empty', text: 'No gaps to show: no role targets or no evidence yet.' }));
      }
      this.reportNode.append(open);
    } catch (error) {
      this.showError(error, 'The team report could not be loaded');
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
    this.options.saveCurrent(id);
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
    const names = new Map(catalog.skills.map(s => [s.id, s.name]));
    const wanted = this.skillSelect.value;
    for (const pb of catalog.playbooks) {
      const start = button(pb.started ? 'Resume' : 'Start', 'wb-StartButton', () => void this.start(pb.id), {
        primary: true,
        attrs: { 'data-playbook-id': pb.id }
      });
      const skills = el('div', { className: 'wb-Chips' });
      // The filtered skill first and highlighted, so a card shows why it matches.
      const ids = Object.keys(pb.skills).sort((x, y) => Number(y === wanted) - Number(x === wanted));
      for (const skill of ids) {
        const match = skill === wanted;
        skills.append(
          el('span', {
            className: match ? 'wb-Chip wb-mod-match' : 'wb-Chip',
            text: names.get(skill) || skill,
            attrs: { 'data-skill': skill, title: match ? 'matches the skill filter' : `trains ${names.get(skill) || skill}` }
          })
        );
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
          start
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
    const open = button(progress.workspace.started ? 'Open notebook' : 'Start', 'wb-OpenButton', () => void this.start(progress.playbook));
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
    const repair = button('Repair and resume', 'wb-OpenButton', () => void this.start(playbookId), { primary: true });
    this.currentNode.append(
      el('p', { className: 'wb-Note', text: `The progress record of ${playbookId} needs repair; your notebook is safe.` }),
      repair
    );
  }

  /** Show a message; success messages fade after a few seconds, warnings and errors stay until dismissed. */
  private showMessage(text: string, kind: 'info' | 'warning' | 'error'): void {
    this.messageText.textContent = text;
    this.messageNode.dataset.kind = kind;
    delete this.messageNode.dataset.error;
    if (this.messageTimer !== null) {
      window.clearTimeout(this.messageTimer);
      this.messageTimer = null;
    }
    if (kind === 'info') {
      this.messageTimer = window.setTimeout(() => this.clearMessage(), INFO_MS);
    }
  }

  private clearMessage(): void {
    this.messageText.textContent = '';
    delete this.messageNode.dataset.kind;
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
  private readonly messageText: HTMLSpanElement;
  private messageTimer: number | null = null;
  private readonly skillSelect: HTMLSelectElement;
  private readonly roleSelect: HTMLSelectElement;
  private readonly catalogNode: HTMLUListElement;
  private readonly currentNode: HTMLDivElement;
  private readonly skillsNode: HTMLDivElement;
  private readonly reportNode: HTMLDivElement;
  private readonly reportSection: HTMLElement;
  private currentId: string | null = null;
  private me: IMe | null = null;
  private pendingRole: string | null = null;
  private lostContact = false;
  private lastCompleted: number | null = null;
  private timer: number | null = null;
}
