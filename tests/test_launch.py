"""Launch pages: the form XOi's guide asks for, read back with html.parser and shlex."""

from __future__ import annotations

import shlex
from collections.abc import Collection
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline import batch
from pipeline.cli import main
from pipeline.core.config import Settings
from pipeline.core.models import Rendered
from pipeline.launch import page_name
from pipeline.link import derive_share_id
from pipeline.store import Ledger

from .conftest import PARTNER, SECRET, manifest, order, write_csv, write_json

ACTION = f"https://vision.xoeye.io/partners/{PARTNER}/share"
CUSTOMER = "O'Brien \"Bob\" & Søn <script>alert('x')</script> — 北京华通机电"
LOCATION = "Friedrichstraße 148 & Co., Zürich; 北京市朝阳区建国路88号 \"B\" <b>2F</b>"
TAGS = ["HVAC", "a&b", "<i>x</i>", "\"q\" 'r'", "café", "维修", "HVAC"]


class Page(HTMLParser):
    """What a browser would submit and show: the form, its inputs, the visible text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.forms: list[dict[str, str | None]] = []
        self.inputs: list[dict[str, str | None]] = []
        self.links: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []
        self.metas: list[dict[str, str | None]] = []
        self.raw_text_elements = 0
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = dict(attrs)
        if tag == "form":
            self.forms.append(values)
        elif tag == "input":
            self.inputs.append(values)
        elif tag == "a":
            self.links.append(values["href"] or "")
        elif tag == "meta":
            self.metas.append(values)

    def handle_data(self, data: str) -> None:
        if self.tags[-1:] != ["style"] and data.strip():
            self.text.append(data.strip())

    @property
    def hidden_fields(self) -> list[tuple[str | None, str | None]]:
        return [(i.get("name"), i.get("value")) for i in self.inputs if i.get("type") == "hidden"]


def launch(runner: CliRunner, *args: str) -> Page:
    result = runner.invoke(main, ["launch", *args])
    assert result.exit_code == 0, result.output
    return Page(result.stdout)


def single(*, ticket: str = "WO-1", customer: str = CUSTOMER, location: str = LOCATION,
           tags: list[str] = TAGS, extra: tuple[str, ...] = ()) -> list[str]:
    return ["--ticket", ticket, "--customer", customer, "--location", location,
            *(word for tag in tags for word in ("--tag", tag)), *extra]


def test_values_are_escaped_and_parse_back_exactly(runner: CliRunner) -> None:
    page = launch(runner, *single(extra=("--share-id", "shr-ÄÖ&\"<>'-0123456789", "--stdout")))
    assert page.hidden_fields == [
        ("shareId", "shr-ÄÖ&\"<>'-0123456789"), ("serviceTicket", "WO-1"),
        ("customer", CUSTOMER), ("location", LOCATION), *(("tags", tag) for tag in TAGS)]
    [form] = page.forms
    assert form == {"method": "post", "accept-charset": "UTF-8", "action": ACTION}
    assert "script" not in page.tags and "i" not in page.tags and "b" not in page.tags
    assert all(field.get("type") == "hidden" for field in page.inputs)
    assert page.tags.count("button") == 1 and "Open in XOi Vision" in page.text
    for value in ("WO-1", CUSTOMER, LOCATION, *TAGS):
        assert value in page.text  # the readable summary shows each value as text
    assert {"name": "viewport", "content": "width=device-width, initial-scale=1"} \
        in page.metas
    assert not {"link", "img", "script", "iframe"} & set(page.tags)


def test_tags_keep_order_count_and_duplicates(tmp_path: Path, runner: CliRunner) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1", tags="zeta|alpha|zeta|mid"),
                                             order("WO-2", tags="")])
    assert runner.invoke(main, ["launch", str(source)]).exit_code == 0
    first = Page((tmp_path / "output/launch/WO-1.html").read_text(encoding="utf-8"))
    assert [value for name, value in first.hidden_fields if name == "tags"] == \
        ["zeta", "alpha", "zeta", "mid"]
    assert [name for name, _ in first.hidden_fields] == \
        ["shareId", "serviceTicket", "customer", "location", "tags", "tags", "tags", "tags"]
    second = Page((tmp_path / "output/launch/WO-2.html").read_text(encoding="utf-8"))
    assert [name for name, _ in second.hidden_fields] == \
        ["shareId", "serviceTicket", "customer", "location"]


def test_share_id_is_the_invoices_given_or_derived(tmp_path: Path, runner: CliRunner,
                                                   settings: Settings) -> None:
    rows = [order("WO-1"), order("  WO-2 ", share_id=""), order("WO-3", share_id="",
                                                                 confirmed="")]
    source = write_csv(tmp_path / "in.csv", rows)
    assert runner.invoke(main, ["launch", str(source)]).exit_code == 0
    launched = {}
    for ticket in ("WO-1", "WO-2", "WO-3"):
        page = Page((tmp_path / f"output/launch/{ticket}.html").read_text(encoding="utf-8"))
        launched[ticket] = dict(page.hidden_fields)["shareId"]
    assert launched["WO-1"] == "shrWO-1abcdefghijklmnop"
    assert launched["WO-2"] == derive_share_id(SECRET, PARTNER, "WO-2")
    assert launched["WO-3"] == derive_share_id(SECRET, PARTNER, "WO-3")

    batch.run([source], settings)  # the invoices of the confirmed two
    invoiced = {row["service_ticket"]: row["share_id"] for row in manifest(settings.out)}
    assert invoiced == {"WO-1": launched["WO-1"], "WO-2": launched["WO-2"]}
    # A page made by hand for the same ticket launches the same activity.
    by_hand = launch(runner, *single(ticket="WO-2", extra=("--stdout",)))
    assert dict(by_hand.hidden_fields)["shareId"] == launched["WO-2"]


def test_missing_partner_id_is_a_usage_error(tmp_path: Path, runner: CliRunner,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XOI_PARTNER_ID", "")
    source = write_csv(tmp_path / "in.csv", [order("WO-1")])
    for args in ([str(source)], single(extra=("--stdout",)), single(extra=("--curl",)),
                 single()):
        result = runner.invoke(main, ["launch", *args])
        assert result.exit_code == 2 and "XOI_PARTNER_ID" in result.stderr, result.output
        assert result.stdout == ""
    assert not (tmp_path / "output").exists()


def test_curl_command_parses_back_to_the_same_fields(runner: CliRunner) -> None:
    tricky = ["$(touch pwned)", "`id`", "it's", "a b\nc", "@/etc/passwd", "-x", "x=y"]
    result = runner.invoke(main, ["launch", *single(tags=tricky, extra=("--curl",))])
    assert result.exit_code == 0, result.output
    words = shlex.split(result.stdout_bytes.decode())  # .stdout turns CRLF into LF
    assert words[:4] == ["curl", "-X", "POST", ACTION]
    options, pairs = words[4::2], words[5::2]
    assert set(options) == {"--data-urlencode"} and len(options) == len(pairs)
    share_id = derive_share_id(SECRET, PARTNER, "WO-1")
    assert [tuple(pair.split("=", 1)) for pair in pairs] == [
        ("shareId", share_id), ("serviceTicket", "WO-1"), ("customer", CUSTOMER),
        ("location", LOCATION), *(("tags", tag.replace("\n", "\r\n")) for tag in tricky)]


def test_index_lists_every_work_order_and_rejections_are_reported(
        tmp_path: Path, runner: CliRunner) -> None:
    rows = [order("WO-2", customer="Zoë & Co"), order("WO-1", confirmed=""),
            order("WO/3", confirmed="no"), order("WO-4", customer=""),
            order("index"),
            # What only the invoice needs is the invoice's problem: the page is written.
            order("WO-5", confirmed="maybe", item_unit_price="lots", invoice_date="May 1",
                  currency="XXQ", tax_rate="-3", notes="bell\x07")]
    source = write_csv(tmp_path / "in.csv", rows)
    result = runner.invoke(main, ["launch", str(source), "--out", "site"])
    assert result.exit_code == 1
    assert [line for line in result.stderr.splitlines() if str(source) in line] == [
        f"{source}:5: ticket WO-4: customer: required, but blank or missing"]
    folder = tmp_path / "site/launch"
    index = Page((folder / "index.html").read_text(encoding="utf-8"))
    tickets = ["WO-1", "WO-2", "WO-5", "WO/3", "index"]
    assert index.links == [page_name(ticket) for ticket in tickets]
    assert all((folder / link).is_file() for link in index.links)
    assert page_name("index") != "index.html" and page_name("WO/3").startswith("WO_3-")
    for expected in (*tickets, "Zoë & Co", "Customer WO-1", "Confirmed", "Not confirmed"):
        assert expected in index.text
    assert index.text.count("Not confirmed") == 3 and index.text.count("Confirmed") == 2
    assert sorted(path.name for path in folder.iterdir()) == \
        sorted(["index.html", *index.links])


def test_records_without_a_usable_share_id_are_rejected(
        tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XOI_SHARE_SECRET", "")
    rows = [order("WO-1", confirmed="", share_id="shared-0123456789abcdef"),
            order("WO-2", share_id=""),
            order("WO-3", share_id="shared-0123456789abcdef"), order("WO-4")]
    source = write_csv(tmp_path / "in.csv", rows)
    result = runner.invoke(main, ["launch", str(source)])
    assert result.exit_code == 1
    # As in the batch, the confirmed ticket keeps a share ID that two tickets claim.
    assert f"{source}:2: ticket WO-1: share_id: 'shared-0123456789abcdef' is already the " \
        "share ID of ticket WO-3" in result.stderr
    assert f"{source}:3: ticket WO-2: share_id: no share_id and no share secret" \
        in result.stderr
    index = Page((tmp_path / "output/launch/index.html").read_text(encoding="utf-8"))
    assert index.links == ["WO-3.html", "WO-4.html"]
    assert "wrote 2 launch pages" in result.stdout


def test_base_url_and_partner_id_shape_the_action(runner: CliRunner,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XOI_PARTNER_ID", "acme/west coast")
    monkeypatch.setenv("XOI_BASE_URL", "https://xoi.example.com/")
    [form] = launch(runner, *single(extra=("--stdout",))).forms
    assert form["action"] == "https://xoi.example.com/partners/acme%2Fwest%20coast/share"
    monkeypatch.setenv("XOI_BASE_URL", "http://127.0.0.1:8123")
    [form] = launch(runner, *single(extra=("--stdout",))).forms
    assert form["action"] == "http://127.0.0.1:8123/partners/acme%2Fwest%20coast/share"
    for bad in ("http://vision.xoeye.io", "ftp://127.0.0.1", "https://", "javascript:x",
                "https://x.example/?a=1"):
        monkeypatch.setenv("XOI_BASE_URL", bad)
        result = runner.invoke(main, ["launch", *single(extra=("--stdout",))])
        assert result.exit_code == 2 and "base_url" in result.stderr, bad


def test_the_form_action_is_held_to_the_rule_of_share_urls(
        runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """One rule checks both (link.share.check_url): a user name before the host, a host
    that is no host name or a URL that does not parse are refused here too."""
    for bad in ("https://vision.xoeye.io@evil.example", "https://xoeye.io%2f.evil",
                "https://[bad", "https://x.example/{a}"):
        monkeypatch.setenv("XOI_BASE_URL", bad)
        result = runner.invoke(main, ["launch", *single(extra=("--stdout",))])
        assert (result.exit_code, result.stderr) == (2, (
            f"Error: base_url: {bad!r} is not an https URL (plain http is accepted only "
            "for 127.0.0.1 and localhost)\n")), bad


def test_single_page_is_written_under_out(tmp_path: Path, runner: CliRunner) -> None:
    result = runner.invoke(main, ["launch", *single(ticket="WO 7/b"), "--out", "site"])
    assert result.exit_code == 0, result.output
    path = tmp_path / "site/launch" / page_name("WO 7/b")
    assert str(path.relative_to(tmp_path)) in result.stdout
    assert dict(Page(path.read_text(encoding="utf-8")).hidden_fields)["serviceTicket"] == \
        "WO 7/b"


@pytest.mark.parametrize("args", [
    [],
    ["in.csv", "--ticket", "WO-1"],
    ["in.csv", "--customer", "C"],
    ["in.csv", "--curl"],
    ["--ticket", "WO-1", "--customer", "C"],
    single(extra=("--stdout", "--curl")),
    single(customer=" "),
])
def test_usage_errors_exit_2(runner: CliRunner, args: list[str]) -> None:
    result = runner.invoke(main, ["launch", *args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_help_has_an_example(runner: CliRunner) -> None:
    result = runner.invoke(main, ["launch", "--help"])
    assert result.exit_code == 0 and "Example:" in result.stdout
    assert "xoi-invoices launch --ticket" in result.stdout


def test_json_input_and_unreadable_input(tmp_path: Path, runner: CliRunner) -> None:
    source = write_json(tmp_path / "in.json", [{"service_ticket": "WO-1", "customer": "C",
                                               "location": "L", "confirmed": None,
                                               "tags": ["b", "a"]}])
    result = runner.invoke(main, ["launch", str(source)])
    assert result.exit_code == 0, result.output
    page = Page((tmp_path / "output/launch/WO-1.html").read_text(encoding="utf-8"))
    assert page.hidden_fields[-2:] == [("tags", "b"), ("tags", "a")]
    missing = runner.invoke(main, ["launch", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2 and "nope.csv" in missing.stderr


def test_launch_keeps_the_share_id_an_invoice_published(tmp_path: Path,
                                                        runner: CliRunner) -> None:
    """The page and the invoice must name one activity, whatever the input says later."""
    published = write_csv(tmp_path / "in.csv", [order("WO-1", share_id="first-0123456789abc")])
    assert runner.invoke(main, ["run", str(published), "--workers", "1"]).exit_code == 0
    changed = write_csv(tmp_path / "in2.csv", [order("WO-1", share_id="other-0123456789abc"),
                                               order("WO-2")])
    result = runner.invoke(main, ["launch", str(changed)])
    assert result.exit_code == 1
    assert f"{changed}:2: ticket WO-1: share_id: 'other-0123456789abc' differs from " \
        "'first-0123456789abc', the share ID already published for this ticket (share IDs " \
        "are immutable)" in result.stderr
    assert not (tmp_path / "output/launch/WO-1.html").exists()
    assert (tmp_path / "output/launch/WO-2.html").is_file()
    single_page = runner.invoke(main, ["launch", *single(extra=("--share-id",
                                                                "other-0123456789abc"))])
    assert single_page.exit_code == 1 and "share IDs are immutable" in single_page.stderr
    derived = runner.invoke(main, ["launch", *single(extra=("--stdout",))])
    assert ("shareId", "first-0123456789abc") in Page(derived.stdout).hidden_fields


def test_undecodable_argument_bytes_are_refused(runner: CliRunner) -> None:
    """Python keeps bytes that are not UTF-8 as surrogates; a page must not carry them."""
    result = runner.invoke(main, ["launch", *single(extra=("--share-id", "\udced\udcb3x" * 8,
                                                           "--stdout"))])
    assert result.exit_code == 2 and result.stdout == ""
    assert "share_id: is not UTF-8 text" in result.stderr
    url = runner.invoke(main, ["share-url", "WO-\udcff"])
    assert url.exit_code == 2
    assert "Error: TICKET and --share-id must be UTF-8 text" in url.stderr


def test_launch_asks_the_ledger_about_its_own_tickets_only(
        tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """As a run does, never reading the whole ledger: it may hold a million invoices."""
    published = write_csv(tmp_path / "in.csv", [order("WO-1", share_id="first-0123456789abc"),
                                                 order("WO-9")])
    assert runner.invoke(main, ["run", str(published), "--workers", "1"]).exit_code == 0
    asked: list[str] = []
    rows = Ledger.rows

    def only_these(ledger: Ledger, tickets: Collection[str]) -> dict[str, Rendered]:
        asked.extend(tickets)
        return rows(ledger, tickets)

    monkeypatch.setattr(Ledger, "rows", only_these)
    monkeypatch.setattr(Ledger, "each", None)  # the whole ledger, a page at a time
    source = write_csv(tmp_path / "in2.csv", [order("WO-3", share_id="first-0123456789abc"),
                                              order("WO-1", share_id="")])
    result = runner.invoke(main, ["launch", str(source)])
    assert result.exit_code == 1
    assert f"{source}:2: ticket WO-3: share_id: 'first-0123456789abc' is already the share " \
        "ID of ticket WO-1" in result.stderr
    assert sorted(asked) == ["WO-1", "WO-3"]
    page = Page((tmp_path / "output/launch/WO-1.html").read_text(encoding="utf-8"))
    assert ("shareId", "first-0123456789abc") in page.hidden_fields
