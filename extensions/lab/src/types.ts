/** The shapes the Workbench REST API (/workbench/api/) answers with. */

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

export interface ICatalog {
  playbooks: IPlaybookRow[];
  skills: { id: string; name: string }[];
  roles: { id: string; name: string }[];
  broken: { folder: string; message: string; hint: string | null }[];
}

export interface ITaskProgress {
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

export interface IStart {
  playbook: string;
  status: 'started' | 'resumed';
  path: string;
  notices: string[];
}

/** One team x skill cell of the manager report (GET /workbench/api/report). */
export interface IReportCell {
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

/** One step of the taxonomy's proficiency scale. */
export interface ILevel {
  level: number;
  name: string;
  descriptor: string;
}

export interface IReport {
  summary: any;
  teams: IReportCell[];
  skills: string[];
  skill_names: Record<string, string>;
  levels?: ILevel[];
  roles?: { id: string; name: string }[];
  role?: string | null;
  all_team: string;
  min_group_size: number;
  suppressed_label: string;
  suppressed_teams: string[];
}

/** The evidence behind one cell (GET /workbench/api/report/evidence). */
export interface IEvidence {
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

export interface IMe {
  learner: string;
  name: string;
  manager: boolean;
  role: string | null;
}
