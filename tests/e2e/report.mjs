// A load-test HTML report in headless Chromium (run by tests/it/reports.rs).
//
//   node tests/e2e/report.mjs REPORT.html SCREENSHOT_PREFIX MIN_CHARTS
//
// Opens the file at two widths (1280 and 480 CSS px) with every network request blocked, and
// checks: at least MIN_CHARTS charts, each visible and at least 200 px wide, with two visible
// axis titles and tick labels; no element reaching past the page's width (no horizontal
// scrolling of the page; a wide table may scroll inside its own box); no request leaving the
// file. Writes SCREENSHOT_PREFIX-1280.png and -480.png and
// prints one JSON line of what it measured. Exits 1 with a message on the first failed check.
// CHROMIUM overrides the browser (default /usr/bin/chromium).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const [file, prefix, minCharts] = process.argv.slice(2);
if (!file || !prefix || !minCharts) {
  console.error("usage: node report.mjs REPORT.html SCREENSHOT_PREFIX MIN_CHARTS");
  process.exit(2);
}
const url = pathToFileURL(resolve(file)).href;
const profile = mkdtempSync(join(tmpdir(), "inboxkit-mock-report-"));
const problems = [];
const measured = {};
let context;

try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  await page.route("**/*", (route) => {
    if (route.request().url() === url) return route.continue();
    problems.push(`the report requested ${route.request().url()}`);
    return route.abort();
  });
  for (const width of [1280, 480]) {
    await page.setViewportSize({ width, height: 900 });
    await page.goto(url, { waitUntil: "load", timeout: 20_000 });
    const seen = await page.evaluate(() => {
      const visible = (el) => {
        const r = el.getBoundingClientRect();
        return r.width > 0 && r.height > 0;
      };
      const pageWidth = document.documentElement.clientWidth;
      // A table inside a scrolling box (overflow-x: auto) scrolls there, not the page.
      const scrolled = (el) => {
        for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
          if (["auto", "scroll"].includes(getComputedStyle(up).overflowX)) return true;
        }
        return false;
      };
      const overflowing = [...document.body.querySelectorAll("*")]
        .filter((el) => el.getBoundingClientRect().right > pageWidth + 1 && !scrolled(el))
        .map((el) => `${el.tagName.toLowerCase()}${el.className?.baseVal ?? el.className ? "." + (el.className.baseVal ?? el.className) : ""}`);
      const charts = [...document.querySelectorAll("svg.chart")].map((svg) => ({
        title: svg.getAttribute("aria-label"),
        width: Math.round(svg.getBoundingClientRect().width),
        axisTitles: [...svg.querySelectorAll("text.axis-label")].filter(visible).map((t) => t.textContent),
        ticks: [...svg.querySelectorAll("text.tick")].filter(visible).length,
      }));
      return {
        pageWidth,
        scrollWidth: document.documentElement.scrollWidth,
        overflowing: overflowing.slice(0, 5),
        charts,
        heading: document.querySelector("h1")?.textContent,
        banner: document.querySelector(".banner")?.textContent,
      };
    });
    measured[width] = seen;
    if (seen.scrollWidth > seen.pageWidth) {
      problems.push(`at ${width} px the page scrolls sideways (${seen.scrollWidth} > ${seen.pageWidth})`);
    }
    if (seen.overflowing.length) {
      problems.push(`at ${width} px elements reach past the page: ${seen.overflowing.join(", ")}`);
    }
    if (seen.charts.length < Number(minCharts)) {
      problems.push(`at ${width} px ${seen.charts.length} charts, expected at least ${minCharts}`);
    }
    for (const chart of seen.charts) {
      if (chart.width < 200) problems.push(`at ${width} px chart "${chart.title}" is ${chart.width} px wide`);
      if (chart.axisTitles.length !== 2) problems.push(`chart "${chart.title}" axis titles: ${JSON.stringify(chart.axisTitles)}`);
      if (chart.ticks < 3) problems.push(`chart "${chart.title}" has ${chart.ticks} visible tick labels`);
    }
    await page.screenshot({ path: `${prefix}-${width}.png`, fullPage: true });
  }
} catch (error) {
  problems.push(`${error.message}`);
}
if (context) await context.close();
rmSync(profile, { recursive: true, force: true });
console.log(JSON.stringify(measured));
if (problems.length) {
  console.error(`report in Chromium: ${problems.join("\n")}`);
  process.exit(1);
}
