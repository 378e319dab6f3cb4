"""How a spider adds its components to the project's (crawlers/components.py)."""

import pytest
from scrapy.settings import Settings

from crawlers.components import register
from crawlers.spiders.businesses import BusinessesSpider
from crawlers.spiders.deals import DealsSpider
from crawlers.spiders.emails import EmailsSpider
from crawlers.spiders.vehicles import VehiclesSpider


def project() -> Settings:
    settings = Settings()
    settings.setmodule("crawlers.settings", priority="project")
    return settings


def test_added_to_the_projects_components_not_instead_of_them():
    settings = project()
    ours = settings.getdict("DOWNLOADER_MIDDLEWARES")
    register(settings, DOWNLOADER_MIDDLEWARES={"my.Middleware": 650})
    merged = settings.getdict("DOWNLOADER_MIDDLEWARES")
    assert merged == {**ours, "my.Middleware": 650}
    assert settings.getpriority("DOWNLOADER_MIDDLEWARES") == 30  # "spider"


def test_the_projects_order_wins_and_a_whole_dict_from_the_command_line_replaces():
    settings = project()
    settings.set("ITEM_PIPELINES", {"my.Pipeline": 5}, priority="project")
    register(settings, ITEM_PIPELINES={"my.Pipeline": 100, "my.Other": 200})
    assert settings.getdict("ITEM_PIPELINES") == {"my.Pipeline": 5, "my.Other": 200}
    settings = project()
    settings.set("ITEM_PIPELINES", {"mine.Only": 1}, priority="cmdline")
    register(settings, ITEM_PIPELINES={"my.Pipeline": 100})
    assert settings.getdict("ITEM_PIPELINES") == {"mine.Only": 1}


def test_only_component_settings():
    with pytest.raises(ValueError, match="CONCURRENT_REQUESTS is not a components setting"):
        register(project(), CONCURRENT_REQUESTS={"x": 1})


@pytest.mark.parametrize(
    ("spider", "setting", "path", "order"),
    [
        (DealsSpider, "ITEM_PIPELINES", "crawlers.pipelines.deals.DealsPostgresPipeline", 500),
        (EmailsSpider, "ITEM_PIPELINES", "crawlers.pipelines.emails.EmailStorePipeline", 300),
        (
            EmailsSpider,
            "SPIDER_MIDDLEWARES",
            "scrapy.spidermiddlewares.depth.DepthMiddleware",
            None,
        ),
        (
            BusinessesSpider,
            "ITEM_PIPELINES",
            "crawlers.pipelines.businesses.BusinessPostgresPipeline",
            320,
        ),
        (VehiclesSpider, "ITEM_PIPELINES", "crawlers.pipelines.pdfs.PdfPipeline", 100),
        (
            VehiclesSpider,
            "DOWNLOADER_MIDDLEWARES",
            "crawlers.middlewares.vehicles_session.VehicleSessionMiddleware",
            650,
        ),
    ],
)
def test_every_spider_registers_its_components_beside_the_projects(spider, setting, path, order):
    settings = project()
    ours = settings.getdict(setting)
    # What Scrapy calls on the spider's class as a crawl starts.
    spider.update_settings(settings)
    components = settings.getdict(setting)
    assert components[path] == order
    # The project's own stay (the page check, the retries, the proxies).
    for name, value in ours.items():
        assert components[name] == value
