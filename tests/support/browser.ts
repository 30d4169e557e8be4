// A page as a person sees it: Debian's headless Chromium opens the file, takes a screenshot and
// hands back the DOM it built. No browser is downloaded: `npm run test:e2e` installs Debian's
// (tests/support/install-e2e-tools.sh). Each run gets a new, empty profile, and nothing that
// would reach the network (updates, sync, field trials) is started.
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { ROOT } from './cli';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** Where CI's log can point at what a browser showed: artifacts/ in the checkout (git-ignored). */
export const ARTIFACTS = path.join(ROOT, 'artifacts');

function chromium(args: string[]): string {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-chromium-'));
  try {
    const r = spawnSync(CHROMIUM, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--hide-scrollbars',
      `--user-data-dir=${profile}`, ...args], { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 2 ** 20 });
    if (r.status !== 0) throw new Error(`chromium ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}`);
    return r.stdout;
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

/** Opens `file` in Chromium: its screenshot written to `png` (the path printed, for CI's log), and the DOM as Chromium built it. */
export function openPage(file: string, png: string, size = '1280,6400'): string {
  fs.mkdirSync(path.dirname(png), { recursive: true });
  chromium([`--window-size=${size}`, `--screenshot=${png}`, `file://${file}`]);
  if (!fs.existsSync(png)) throw new Error(`chromium wrote no screenshot to ${png}`);
  process.stdout.write(`kapman tests: screenshot of ${path.basename(file)}: ${png}\n`);
  return chromium(['--dump-dom', `file://${file}`]);
}

/** The text of the element carrying `data-figure="name"`, as a number when it reads as one (thousands separators dropped). */
export function figure(dom: string, name: string): string | undefined {
  const m = new RegExp(`data-figure="${name}"[^>]*>([^<]*)<`).exec(dom);
  return m?.[1];
}

export const numberOf = (dom: string, name: string): number | undefined => {
  const text = figure(dom, name);
  return text === undefined ? undefined : Number(text.replace(/,/g, ''));
};

/** The panels in the order the page shows them, each with whether it was left out. */
export function panels(dom: string): Array<{ panel: string; leftOut: boolean }> {
  return [...dom.matchAll(/<section id="[^"]*" class="([^"]*)" data-panel="([^"]*)"/g)].map((m) => ({ panel: m[2], leftOut: m[1].includes('left-out') }));
}
