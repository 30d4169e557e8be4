// `kapman-db report`'s work: the figures in one read-only snapshot, then the page, written whole.
import fs from 'fs';
import path from 'path';
import { stampedFile } from '../paths';
import { Settings } from '../server/settings';
import { collectReport, HealthReport, ReportOptions } from './collect';
import { renderPage } from './page';

export interface WrittenReport extends HealthReport {
  /** The page written. */
  file: string;
  bytes: number;
}

/** reports/<database>-<UTC timestamp>.html in the project. */
export const defaultReportFile = (database: string, now = new Date()) => stampedFile('reports', database, 'html', now);

export async function writeReport(settings: Settings, o: ReportOptions & { out?: string }): Promise<WrittenReport> {
  const report = await collectReport(settings, o);
  const started = Number(process.hrtime.bigint()) / 1e6;
  const page = renderPage(report);
  report.timings.page = Math.round((Number(process.hrtime.bigint()) / 1e6 - started) * 10) / 10;
  const file = path.resolve(o.out ?? defaultReportFile(settings.database, new Date(report.takenAt)));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // Written beside, then renamed: a reader never finds half a page.
  const partial = `${file}.${process.pid}.partial`;
  fs.writeFileSync(partial, page);
  fs.renameSync(partial, file);
  return { ...report, file, bytes: Buffer.byteLength(page) };
}
