"""Project defaults. Endpoints and secrets come from the environment or `.env`.

Every value here can be overridden per run: `scrapy crawl vehicles -s CONCURRENT_REQUESTS=7`.
Worker counts of the old tools are concurrency settings here, not processes.
"""

import os
import warnings

from scrapy.exceptions import ScrapyDeprecationWarning
from scrapy.settings import default_settings

from crawlers.browser import launch_options
from crawlers.cluster.keys import STATE_TTL_SECONDS
from crawlers.env import PROJECT_ROOT, env_bool, env_str, load_env

load_env()

# scrapy-redis 0.9.1 and scrapy-rotating-proxies 0.6.2 still pass `spider=` arguments that
# Scrapy 2.19 deprecates; the warnings say nothing a user can act on.
for _module in ("scrapy_redis", "rotating_proxies"):
    warnings.filterwarnings("ignore", category=ScrapyDeprecationWarning, module=_module)

BOT_NAME = "crawlers"
SPIDER_MODULES = ["crawlers.spiders"]
NEWSPIDER_MODULE = "crawlers.spiders"
# A crawl imports its own spider's module only, not every spider's (crawlers/spider_loader.py).
SPIDER_LOADER_CLASS = "crawlers.spider_loader.LazySpiderLoader"
COMMANDS_MODULE = "crawlers.commands"

DATA_DIR = env_str("DATA_DIR", str(PROJECT_ROOT / "data"))

# --- Sites (defaults are the real sites where one exists) --------------------------------
VEHICLES_BASE_URL = env_str("VEHICLES_BASE_URL")
DEALS_BASE_URL = env_str("DEALS_BASE_URL", "https://www.google.com")
BUSINESSES_BASE_URL = env_str("BUSINESSES_BASE_URL", "https://www.yellowpages.com")
VEHICLES_USERNAME = env_str("VEHICLES_USERNAME")
VEHICLES_PASSWORD = env_str("VEHICLES_PASSWORD")
# vehicles (README "vehicles"; the spider turns AutoThrottle off for itself, BENCHMARKS.md)
VEHICLES_PER_PAGE = 100  # inventory API page size (the portal allows up to 100)
VEHICLES_MAX_WALKS = 5  # walks through the inventory while it changes under the spider
VEHICLES_PDF_RETRIES = 4  # fetches of a PDF that came back short, not a PDF, or wrong
VEHICLES_LINK_REFRESHES = 3  # new signed links per vehicle after a 403
VEHICLES_SESSION_RENEWALS = 3  # logins in a row for one request before it fails
VEHICLES_LOGIN_ATTEMPTS = 5
VEHICLES_LOGIN_TIMEOUT = 30.0  # seconds per browser step of the login
VEHICLES_BROWSER_CONTEXT = "vehicles"  # scrapy-playwright context of the login
VEHICLES_BROWSER_PAGES = False  # vehicle pages in the browser too (slower; for comparison)

# --- Concurrency and pacing ----------------------------------------------------------------
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_DELAY = 0
# AutoThrottle paces each site by its own latency; the target is the number of requests
# kept in flight per site, so a slow site is not hammered and a fast one is not starved.
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.25
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 8.0
# CONCURRENCY_AUTO: the total concurrency moves between CONCURRENCY_AUTO_MIN and
# CONCURRENT_REQUESTS (the ceiling) with the CPU, memory, event-loop delay and 429s, as
# Crawlee's autoscaled pool does (crawlers/extensions/autoscale.py, BENCHMARKS.md).
# Off here; the businesses and deals spiders turn it on, where it was measured at least as
# good as the best fixed concurrency (emails and vehicles were not measured).
CONCURRENCY_AUTO = False
CONCURRENCY_AUTO_MIN = 1
CONCURRENCY_AUTO_START = 0  # 0: start at the ceiling
CONCURRENCY_AUTO_INTERVAL = 10.0  # seconds between changes
CONCURRENCY_AUTO_STEP = 0.05  # share of the concurrency a change adds or removes (at least 1)
CONCURRENCY_AUTO_MAX_CPU = 0.95  # of one core, for the crawl's own process
CONCURRENCY_AUTO_MAX_LOOP_DELAY = 0.05  # seconds late that make the event loop overloaded
CONCURRENCY_AUTO_MAX_MEMORY_MB = 0  # the process tree's; 0: a quarter of the machine's
# Scrapy 2.19 does not enforce CONCURRENT_REQUESTS_PER_DOMAIN under the asyncio reactor;
# this downloader does (crawlers/internals/downloader.py).
DOWNLOADER = "crawlers.internals.downloader.PacedDownloader"
DOWNLOAD_TIMEOUT = 30
ROBOTSTXT_OBEY = False
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)

# --- Retries with backoff (Retry-After honoured) -------------------------------------------
RETRY_ENABLED = True
RETRY_TIMES = 6
RETRY_HTTP_CODES = [429, 500, 502, 503, 504, 522, 524, 408]
RETRY_BACKOFF_BASE = 0.5
RETRY_BACKOFF_MAX = 60.0
RETRY_AFTER_MAX = 300.0
# Scrapy's list, plus Playwright's errors: a browser page that times out or loses its
# connection (net::ERR_*) is retried with backoff like a plain request.
RETRY_EXCEPTIONS = [
    *default_settings.RETRY_EXCEPTIONS,
    "playwright.async_api.Error",
]
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawlers.middlewares.retry.BackoffRetryMiddleware": 550,
    # Block pages, pages not rendered, pages the spider does not recognise: flagged before
    # the ban policy (620) and the retries (550) see them (crawlers/middlewares/page_check.py).
    # Decompression moves in front of both (Scrapy has it at 590, after them), so the page
    # check and the ban policy read the page, not its gzip.
    "crawlers.middlewares.page_check.PageCheckMiddleware": 630,
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": 640,
}
# Phrases of whole block or challenge pages (crawlers/extraction/blocks.py has the list);
# set to replace it. PROXY_BAN_MARKERS, where set, replaces it for the ban policy alone.
BLOCK_PAGE_MARKERS: list[str] = []

# --- Proxies (crawlers/middlewares/proxies.py, README "Proxies") ---------------------------
# A list file, one proxy a line: host:port, host:port:user:password (Webshare) or
# http://user:password@host:port. Unset: DATA_DIR/proxies.txt if it exists, else direct.
PROXY_LIST = env_str("PROXY_LIST")
PROXY_ENABLED = env_bool("PROXY_ENABLED", True)
# The old tools benched a proxy for 60 minutes after 10 failures. Here the failures are bans
# in a row (crawlers/proxies/policy.py), each further rest in a row lasts twice as long up
# to the max, and a proxy back from a rest is benched again on its first ban.
PROXY_BAN_THRESHOLD = 10
PROXY_REST_SECONDS = 3600
PROXY_REST_MAX_SECONDS = 4 * 3600
# How often a node re-reads the health other nodes share through Redis (REDIS_URL set).
PROXY_HEALTH_REFRESH_SECONDS = 2.0
ROTATING_PROXY_BAN_POLICY = "crawlers.proxies.policy.BanPolicy"
# Proxies a page is tried through before its ban is taken as the page's own answer.
ROTATING_PROXY_PAGE_RETRY_TIMES = 5
ROTATING_PROXY_LOGSTATS_INTERVAL = 60
DOWNLOADER_MIDDLEWARES.update(
    {
        "crawlers.middlewares.proxies.ProxyRotationMiddleware": 610,
        "crawlers.middlewares.proxies.ProxyBanDetectionMiddleware": 620,
    }
)

# --- Browser pages (scrapy-playwright) -----------------------------------------------------
HEADLESS = env_bool("HEADLESS", True)
BLOCK_RESOURCES = env_bool("BLOCK_RESOURCES", True)
# scrapy-playwright's handler, starting Playwright at the first browser page and letting it
# go when told no page is needed for now (crawlers/internals/browser_handler.py).
DOWNLOAD_HANDLERS = {
    "http": "crawlers.internals.browser_handler.BrowserHandler",
    "https": "crawlers.internals.browser_handler.BrowserHandler",
}
# When a browser is let go (the vehicles spider's, once logged in), Playwright's driver goes
# too (about 120 MB); false keeps it for the next launch (0.5-0.7 s less on a quiet
# machine; no difference measured on a busy one, BENCHMARKS.md "vehicles").
BROWSER_RELEASE_DRIVER = True
PLAYWRIGHT_BROWSER_TYPE = "chromium"
PLAYWRIGHT_LAUNCH_OPTIONS = launch_options(headless=HEADLESS)
PLAYWRIGHT_MAX_CONTEXTS = 8
PLAYWRIGHT_MAX_PAGES_PER_CONTEXT = 4
PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT = 30_000
if BLOCK_RESOURCES:
    PLAYWRIGHT_ABORT_REQUEST = "crawlers.browser.should_abort_request"

# --- Storage: embedded by default, PostgreSQL when DATABASE_URL is set ---------------------
FILES_STORE = env_str("FILES_STORE", f"{DATA_DIR}/pdfs")
DATABASE_URL = env_str("DATABASE_URL")
FEED_EXPORT_ENCODING = "utf-8"
# Same lines as Scrapy's jsonlines exporter, a quarter of the CPU for dataclass items; CSV
# with list and dict fields as JSON cells (README "Where output goes").
FEED_EXPORTERS = {
    "jsonlines": "crawlers.exporters.DataclassJsonLinesItemExporter",
    "csv": "crawlers.exporters.JsonFieldsCsvItemExporter",
}

# --- deals (crawlers/spiders/deals.py, README "deals") ------------------------------------
# Seconds the number of cards/options must stay the same before a page counts as
# rendered; it must exceed the longest pause between two cards of the site.
DEALS_SETTLE_SECONDS = 1.5
DEALS_RENDER_TIMEOUT = 30.0  # seconds a browser page may take to show results
DEALS_CAPACITY_ORIGINS = 100  # origins the capacity plan is made for
# A 429 that outlives RETRY_TIMES is queued again, up to this many times: the site
# asks for patience (Retry-After), it is not broken, and giving up would lose deals.
DEALS_429_ROUNDS = 5
# A file of the node's own; None: the regions.json shipped in the package.
DEALS_REGIONS_FILE = None
# How long a cluster's ranking state stays in Redis after its last write.
DEALS_STATE_TTL = STATE_TTL_SECONDS

# --- businesses (crawlers/spiders/businesses.py, README "businesses") ----------------------
# Accept/reject rules for listings: a file, empty to keep every listing, or None (unset)
# for the rules shipped in the package (crawlers/data/business_filter.json).
BUSINESSES_FILTER_FILE = (
    env_str("BUSINESSES_FILTER_FILE") if "BUSINESSES_FILTER_FILE" in os.environ else None
)
# A claimed target comes back to the other nodes if its node stops renewing it this long.
BUSINESSES_LEASE_SECONDS = 300
BUSINESSES_TARGETS_IN_FLIGHT = 0  # targets worked on at once (0: CONCURRENT_REQUESTS)
# Targets claimed ahead of the free slots and held ready, so a slot that frees starts one at
# once: one ledger round trip per this many (+1) targets instead of one per target.
BUSINESSES_CLAIM_BATCH = 8
BUSINESSES_MAX_PAGES = 100  # results pages read per search at most
BUSINESSES_WAIT_FOR_LEASES = True  # stay while other nodes hold targets (to take over)
BUSINESSES_DB_BATCH = 200  # PostgreSQL upserts per transaction
BUSINESSES_DB_FLUSH_SECONDS = 0.2  # or sooner, after this long
# How long a node keeps trying an unreachable ledger or database before it stops (exit 1).
BUSINESSES_STORE_WAIT = 300

# --- emails (README: emails) ---------------------------------------------------------------
EMAILS_MAX_DEPTH = 3  # links followed from a start URL
EMAILS_MAX_PAGES_PER_SITE = 100  # pages fetched per site (per node in a cluster)
EMAILS_MAX_QUERY_PARAMS = 2  # links with more query parameters are traps
EMAILS_MAX_QUERY_VARIANTS = 5  # query strings followed per path and site
EMAILS_DEFAULT_SCHEME = "https"  # for start domains given without a scheme
EMAILS_TABLE = "emails"  # PostgreSQL table (DATABASE_URL set)
EMAILS_DB_BATCH = 20_000  # rows per COPY batch
EMAILS_DB_FLUSH_SECONDS = 2.0  # a partial batch is written at least this often
EMAILS_SETTLE_SECONDS = 2.0  # cluster with a target: how often claims of dead nodes are released

# --- Cluster: a shared Redis queue with leases when REDIS_URL is set -----------------------
REDIS_URL = env_str("REDIS_URL")
# One logical crawl shared by every node (default: the spider's name); see crawlers/jobs.py.
CRAWL_JOB = env_str("CRAWL_JOB")
NODE_ID = env_str("NODE_ID")
# With REDIS_URL (environment or `-s`) this add-on swaps in the shared queue with leases of
# crawlers/cluster: same spiders, same commands; without it Scrapy's own scheduler runs.
# VersionCheck: one warning line when Scrapy or a plugin is at a version whose internals the
# project was not checked on (crawlers/internals).
ADDONS = {"crawlers.cluster.addon.Cluster": 0, "crawlers.internals.VersionCheck": 0}
# A request taken by a node that stops renewing it (the node died) goes back to the others.
CLUSTER_LEASE_SECONDS = 60
# How often an idle node looks for shared work, and renews its leases.
CLUSTER_POLL_INTERVAL = 1.0
# The job ends when no node has work (pending, leased, or still starting) for this long.
CLUSTER_IDLE_GRACE = 3.0
# How long nodes wait for an unreachable Redis before stopping, the work left queued there.
CLUSTER_REDIS_WAIT = 300
# Seconds a handled request stays leased before its ack: longer than a pipeline that writes
# in batches takes to commit a batch, so a node dying with rows in memory loses none.
CLUSTER_ACK_DELAY = 0
# For a crawl of hundreds of millions of URLs: a new run keeps its fingerprints in a Bloom
# filter sized for this many (a fixed 1.8 bytes each at 0.001) instead of an exact set
# (about 100 bytes each); a false positive is a URL taken for seen, never crawled. 0: a set.
CLUSTER_SEEN_FILTER_CAPACITY = 0
CLUSTER_SEEN_FILTER_ERROR = 0.001
# A site's pace shared by every node of a job (one node alone without REDIS_URL): at most
# this many requests in flight to a site, and this many a second, adapted to its latency,
# 429s and Retry-After (crawlers/pace/; 0: not limited that way; both 0: the per-node
# CONCURRENT_REQUESTS_PER_DOMAIN and AutoThrottle as before).
CLUSTER_SITE_CONCURRENCY = 0
CLUSTER_SITE_RATE = 0.0
CLUSTER_SITE_SYNC_INTERVAL = 0.5  # seconds between a node's looks at a busy site's pace
CLUSTER_SITE_LEASE_SECONDS = 10  # a dead node's share of a site comes back after this

# --- Items ----------------------------------------------------------------------------------
# businesses and emails yield a page's records as one item (crawlers/batches.py): feeds,
# stats and CLOSESPIDER_ITEMCOUNT still count records. False: one item per record, for a
# pipeline or item_scraped handler of your own that expects one.
ITEM_BATCHES = True

# --- Logging -------------------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
# "Scraped from" records cost about 8% of the CPU of a listing crawl even when filtered.
LOG_FORMATTER = "crawlers.logformatter.QuietLogFormatter"
TELNETCONSOLE_ENABLED = False

EXTENSIONS = {
    "scrapy.extensions.corestats.CoreStats": None,
    "crawlers.extensions.corestats.CoreStats": 0,
    # Feeds and CLOSESPIDER_ITEMCOUNT take a batch's records one by one (crawlers/batches.py).
    "scrapy.extensions.feedexport.FeedExporter": None,
    "crawlers.batches.BatchFeedExporter": 0,
    "scrapy.extensions.closespider.CloseSpider": None,
    "crawlers.batches.BatchCloseSpider": 0,
    # Resources first: the report and the last telemetry snapshot read its final sample.
    "crawlers.extensions.resources.ResourceMonitor": 100,
    "crawlers.extensions.autoscale.AutoConcurrency": 105,
    "crawlers.extensions.progress.ProgressLog": 110,
    "crawlers.telemetry.extension.TelemetryPublisher": 120,
    "crawlers.extensions.report.CrawlReport": 130,
    "crawlers.extensions.stats_file.StatsFile": 900,
    "crawlers.extensions.listener_errors.DeadBrowserListenerErrors": 910,
}
# Final stats as JSON (empty: not written).
STATS_FILE = env_str("STATS_FILE")

# --- Progress, report, telemetry and the dashboard (README: Progress) --------------------
PROGRESS_INTERVAL = 30.0  # seconds between progress lines (0: none)
PROGRESS_RATE_WINDOW = 300.0  # the rate, and so the ETA, follows the last 5 minutes
# "job": every node knows the whole job's total (merged across nodes as the largest);
# "node": a node's total counts only the work it planned (merged as the sum).
PROGRESS_TOTAL_SCOPE = "job"
RESOURCES_INTERVAL = 10.0  # seconds between memory/CPU samples of the process tree
REPORT_ENABLED = True  # text report in the log and DATA_DIR/reports/*.json at the end
TELEMETRY_INTERVAL = 10.0  # seconds between snapshots (Redis, else DATA_DIR/jobs/<job>.json)
TELEMETRY_REDIS_URL = env_str("TELEMETRY_REDIS_URL")  # empty: REDIS_URL
TELEMETRY_PREFIX = "telemetry"
TELEMETRY_TTL = 24 * 3600  # a job stays on the dashboard's live list a day after its last report
TELEMETRY_HISTORY_DAYS = 90.0  # each run of a job is kept this long (0: for ever)
TELEMETRY_HISTORY_RUNS = 200  # and at most this many runs per job (0: no limit)
TELEMETRY_SERIES_INTERVAL = 30.0  # seconds between the points of a run's chart, per node
TELEMETRY_FAILED_UNITS = 500  # the last failed units a node keeps for its run's record
TELEMETRY_SILENT_AFTER = 300.0  # a node not heard from for 5 minutes is silent
DASHBOARD_HOST = "127.0.0.1"
DASHBOARD_PORT = 8750
DASHBOARD_TOKEN = env_str("DASHBOARD_TOKEN")  # required when not bound to localhost
DASHBOARD_REFRESH = 2.0  # seconds between the page's refreshes
# scrapyd nodes the dashboard starts jobs on: "URL" or "NAME=URL", comma-separated; a URL's
# user:password is scrapyd's basic auth, never shown (README "Several nodes, and scrapyd").
DASHBOARD_SCRAPYD_NODES = env_str("DASHBOARD_SCRAPYD_NODES")
DASHBOARD_SCRAPYD_PROJECT = "crawlers"  # the project scrapyd-deploy uploaded
DASHBOARD_STOP_GRACE = 30.0  # seconds after a stop (SIGINT) before a second one ends the job
DASHBOARD_COMPARE_SHARE = 0.10  # a run with 10% fewer items, ... than the one before is flagged
DASHBOARD_SCHEDULE_CHECK = 10.0  # seconds between a dashboard's looks for a schedule's slot
DASHBOARD_SCHEDULE_LATE = 600.0  # a slot missed by more than this (dashboard down) is skipped
# Called (POST, JSON) when a job fails, stalls or ends with too many failures; empty: none.
DASHBOARD_ALERT_WEBHOOK = env_str("DASHBOARD_ALERT_WEBHOOK")
DASHBOARD_ALERT_CHECK = 15.0  # seconds between a dashboard's looks for alerts
DASHBOARD_STALL_MINUTES = 30.0  # a running job with no unit finished this long has stalled
DASHBOARD_ALERT_FAILED_SHARE = 0.2  # a job ending with more of its units failed is alerted
