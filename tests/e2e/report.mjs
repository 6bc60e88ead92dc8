// A load-test HTML report in headless Chromium (run by tests/it/reports.rs).
//
//   node tests/e2e/report.mjs REPORT.html SCREENSHOT_PREFIX MIN_CHARTS [failures]
//
// Opens the file at two widths (1280 and 480 CSS px) with every network request blocked, and
// checks: at least MIN_CHARTS charts shown, each at least 200 px wide, with two visible axis
// titles and tick labels; charts on a logarithmic scale, hidden at first, shown with the same
// checks once the "logarithmic scale" switch is clicked (a radio button styled by CSS: the page
// has no scripts), the linear ones then hidden; no element reaching past the page's width (no
// horizontal scrolling of the page; a wide table may scroll inside its own box); no request
// leaving the file; a comparison's table (table.compare) within the page's width, its metric
// names and verdicts each on one line; every chart's axis tick labels at least 10 px tall (the
// SVG scales down on a narrow page, so the page enlarges them there). With `failures`: the report of a run whose deliveries failed must show the
// outcomes-over-time chart (with its legend), a "Failed deliveries" section with its first
// delivery open (an attempts table and the request body visible), and every link from an
// outcome count must lead to an element of the page (following one brings it into view). Writes SCREENSHOT_PREFIX-1280.png, -480.png
// and -1280-log.png and prints one JSON line of what it measured. Exits 1 with a message
// listing every failed check. CHROMIUM overrides the browser (default /usr/bin/chromium).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const [file, prefix, minCharts, expect] = process.argv.slice(2);
if (!file || !prefix || !minCharts || (expect && expect !== "failures")) {
  console.error("usage: node report.mjs REPORT.html SCREENSHOT_PREFIX MIN_CHARTS [failures]");
  process.exit(2);
}
const url = pathToFileURL(resolve(file)).href;
const profile = mkdtempSync(join(tmpdir(), "inboxkit-mock-report-"));
const problems = [];
const measured = {};
let context;

// What the page shows: run in the browser.
function measure() {
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
  const all = [...document.querySelectorAll("svg.chart")];
  const charts = all.filter(visible).map((svg) => ({
    title: svg.getAttribute("aria-label"),
    width: Math.round(svg.getBoundingClientRect().width),
    axisTitles: [...svg.querySelectorAll("text.axis-label")].filter(visible).map((t) => t.textContent),
    ticks: [...svg.querySelectorAll("text.tick")].filter(visible).length,
    legend: [...svg.querySelectorAll("g.legend text")].filter(visible).map((t) => t.textContent),
    // The smallest axis tick label as drawn, in CSS px (bar labels aside).
    tickPx: Math.min(...[...svg.querySelectorAll("text.tick:not(.bar)")].filter(visible)
      .map((t) => Math.round(t.getBoundingClientRect().height * 10) / 10)),
  }));
  // The comparison's table fits the page; metric names and verdicts are never broken.
  const table = document.querySelector("table.compare");
  const compare = table && {
    fits: table.getBoundingClientRect().right <= pageWidth + 1,
    broken: [...table.querySelectorAll("td.metric, td.verdict")].filter((td) => {
      const range = document.createRange();
      range.selectNodeContents(td);
      return range.getClientRects().length > 1;
    }).map((td) => td.textContent),
  };
  const section = document.getElementById("failures");
  const first = document.querySelector("details.failure");
  const failures = section && {
    deliveries: document.querySelectorAll("details.failure").length,
    firstOpen: !!first?.open,
    attemptRows: first ? [...first.querySelectorAll("table tr")].filter(visible).length : 0,
    bodyShown: !!first?.querySelector("pre.body") && visible(first.querySelector("pre.body")),
  };
  const outcomeLinks = [...document.querySelectorAll("#outcomes ~ table a[href^='#']")].map((a) => ({
    href: a.getAttribute("href"),
    target: !!document.getElementById(a.getAttribute("href").slice(1)),
  }));
  return {
    pageWidth,
    scrollWidth: document.documentElement.scrollWidth,
    overflowing: overflowing.slice(0, 5),
    charts,
    hiddenCharts: all.filter((svg) => !visible(svg)).map((svg) => svg.getAttribute("aria-label")),
    heading: document.querySelector("h1")?.textContent,
    banner: document.querySelector(".banner")?.textContent,
    failures,
    outcomeLinks,
    compare,
  };
}

// The checks every view of the page must pass.
function check(seen, where) {
  if (seen.scrollWidth > seen.pageWidth) {
    problems.push(`${where} the page scrolls sideways (${seen.scrollWidth} > ${seen.pageWidth})`);
  }
  if (seen.overflowing.length) {
    problems.push(`${where} elements reach past the page: ${seen.overflowing.join(", ")}`);
  }
  if (seen.compare && (!seen.compare.fits || seen.compare.broken.length)) {
    problems.push(`${where} the comparison table: ${JSON.stringify(seen.compare)}`);
  }
  for (const chart of seen.charts) {
    if (chart.width < 200) problems.push(`${where} chart "${chart.title}" is ${chart.width} px wide`);
    if (chart.axisTitles.length !== 2) problems.push(`${where} chart "${chart.title}" axis titles: ${JSON.stringify(chart.axisTitles)}`);
    if (chart.ticks < 3) problems.push(`${where} chart "${chart.title}" has ${chart.ticks} visible tick labels`);
    if (chart.tickPx < 10) problems.push(`${where} chart "${chart.title}" tick labels are ${chart.tickPx} px tall`);
  }
}

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
    const seen = await page.evaluate(measure);
    measured[width] = seen;
    check(seen, `at ${width} px`);
    if (seen.charts.length < Number(minCharts)) {
      problems.push(`at ${width} px ${seen.charts.length} charts shown, expected at least ${minCharts}`);
    }
    if (seen.hiddenCharts.some((title) => !title.endsWith("(log)"))) {
      problems.push(`at ${width} px hidden charts: ${seen.hiddenCharts.join(", ")}`);
    }
    if (expect === "failures") {
      const stacked = seen.charts.find((c) => c.title === "events by how they ended, per second");
      if (!stacked) problems.push(`at ${width} px no outcomes-over-time chart`);
      else if (!["delivered", "4xx", "5xx", "timeout", "connection error"].every((n) => stacked.legend.includes(n))) {
        problems.push(`outcomes chart legend: ${JSON.stringify(stacked.legend)}`);
      }
      const f = seen.failures;
      if (!f) problems.push(`at ${width} px no "Failed deliveries" section`);
      else {
        if (f.deliveries < 1 || !f.firstOpen || !f.attemptRows || !f.bodyShown) {
          problems.push(`at ${width} px the failed deliveries: ${JSON.stringify(f)}`);
        }
        if (!seen.outcomeLinks.length || seen.outcomeLinks.some((l) => !l.target)) {
          problems.push(`at ${width} px outcome links: ${JSON.stringify(seen.outcomeLinks)}`);
        }
        // Following an outcome's link brings its failed deliveries into view.
        const link = seen.outcomeLinks.find((l) => l.href.startsWith("#failed-"));
        if (link) {
          await page.click(`#outcomes ~ table a[href="${link.href}"]`);
          const top = await page.evaluate((id) => {
            const r = document.getElementById(id).getBoundingClientRect();
            return r.top > -2 && r.top < window.innerHeight ? Math.round(r.top) : null;
          }, link.href.slice(1));
          if (top === null) problems.push(`at ${width} px ${link.href} is not in view after its link`);
          measured[`${width}-followed`] = { href: link.href, top };
          await page.evaluate(() => window.scrollTo(0, 0));
        }
      }
    }
    await page.screenshot({ path: `${prefix}-${width}.png`, fullPage: true });
    const logSwitch = page.locator("label[for=scale-log]");
    if (await logSwitch.count()) {
      await logSwitch.click();
      const log = await page.evaluate(measure);
      measured[`${width}-log`] = { charts: log.charts, hiddenCharts: log.hiddenCharts };
      check(log, `at ${width} px, logarithmic`);
      const shownLog = log.charts.filter((c) => c.title.endsWith("(log)"));
      if (!shownLog.length || log.charts.some((c) => c.title.endsWith("(linear)"))) {
        problems.push(`at ${width} px the log switch shows ${JSON.stringify(log.charts.map((c) => c.title))}`);
      }
      if (width === 1280) await page.screenshot({ path: `${prefix}-1280-log.png`, fullPage: true });
    }
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
