// What both browser tests share: the build's programs, the tally of
// checks, starting and stopping the real processes, axe, the keyboard,
// and Debian's chromium. Each test keeps its own configuration and flows.
import { chromium } from 'playwright-core';
import { readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const build = resolve(process.argv[2] || '../../build');
export const source = resolve(process.argv[3] || '../..');
export const shots = join(build, 'tests', 'browser', 'screenshots');
export const bin = {
	router: join(build, 'router', 'mailroom-router'),
	gateway: join(build, 'gateway', 'mailroom-gateway'),
	handler: join(build, 'workers', 'handler', 'mailroom-handler'),
	admin: join(build, 'workers', 'admin', 'mailroom-admin'),
	audit: join(build, 'workers', 'audit', 'mailroom-audit'),
};

const tally = { passed: 0, failed: 0 };
export function check(cond, what) {
	if (cond) { tally.passed++; return; }
	tally.failed++;
	console.error(`FAIL: ${what}`);
}
export const failures = () => tally.failed;
export const sleep = (ms) => new Promise(r => setTimeout(r, ms));

// Resolves with the first match of re in child's stderr.
export function waitLine(child, re, ms) {
	return new Promise((res, rej) => {
		let seen = '';
		const t = setTimeout(() => rej(new Error(`timeout waiting for ${re}: ${seen}`)), ms);
		child.stderr.on('data', d => {
			seen += d.toString();
			const m = seen.match(re);
			if (m) { clearTimeout(t); res(m); }
		});
	});
}

// An orderly stop must exit 0 (a sanitizer report would not).
export function stop(child, what) {
	return new Promise(res => {
		if (!child || child.exitCode !== null) return res();
		child.once('exit', (code, sig) => {
			check(code === 0, `${what} stopped cleanly (exit ${code}, signal ${sig})`);
			res();
		});
		child.kill('SIGTERM');
	});
}

// Polls base/healthz until it says ready (want) or not.
export async function healthy(base, want) {
	for (let i = 0; i < 100; i++) {
		const r = await fetch(`${base}/healthz`);
		if ((r.status === 200) === want) return true;
		await sleep(100);
	}
	return false;
}

export async function axe(page, name) {
	await page.evaluate(axeSource);
	const res = await page.evaluate(() => window.axe.run(document, {
		runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
	}));
	const bad = res.violations.filter(v => v.impact === 'serious' || v.impact === 'critical');
	for (const v of bad)
		console.error(`axe ${name}: ${v.impact} ${v.id}: ${v.help} (${v.nodes.map(n => n.target).join(' ')})`);
	check(bad.length === 0, `axe finds no serious or critical violation on ${name}`);
}

// Moves focus with Tab alone until sel has it; the focus must be visible.
export async function tabTo(page, sel, tries = 80) {
	for (let i = 0; i < tries; i++) {
		await page.keyboard.press('Tab');
		const st = await page.evaluate(s => {
			const e = document.activeElement;
			if (!e || !e.matches(s)) return null;
			const cs = getComputedStyle(e);
			return { outline: cs.outlineStyle, width: parseFloat(cs.outlineWidth) };
		}, sel);
		if (st) {
			check(st.outline !== 'none' && st.width >= 2, `visible focus on ${sel}`);
			return;
		}
	}
	throw new Error(`the keyboard cannot reach ${sel} on ${page.url()}`);
}

// Debian's chromium with a fresh profile (--user-data-dir) and the flags
// a closed network needs; never a downloaded browser.
export function launch(profile) {
	return chromium.launchPersistentContext(profile, {
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		headless: true,
		args: ['--headless', '--lang=zh-CN', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync'],
		viewport: { width: 1280, height: 900 },
		locale: 'zh-CN',
	});
}

// Runs a test's body with the browser and the processes, then stops them
// all, prints the tally and exits with it.
export async function main({ profile, dir, start, body, stopAll }) {
	let browser = null;
	try {
		await start();
		browser = await launch(profile);
		await body(browser);
	} catch (e) {
		console.error(e);
		tally.failed++;
	} finally {
		if (browser) await browser.close();
		await stopAll();
		rmSync(profile, { recursive: true, force: true });
		rmSync(dir, { recursive: true, force: true });
	}
	console.log(`screenshots: ${shots}`);
	console.log(`${tally.passed} passed, ${tally.failed} failed`);
	process.exit(tally.failed ? 1 : 0);
}
