"""Mapping files from the command line: the README's example, the shipped examples end to
end (PDFs read back), the errors a clerk meets, the draft, and what a change re-renders."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from click.testing import CliRunner

from pipeline.read import load_mapping

from .conftest import ROOT, link_uris, pdf_text, report
from .test_cli import invoke

EXAMPLES = ROOT / "examples"
README_MAPPING = re.search(r"```toml\n(# mapping for our FSM's nightly export\n.*?)```",
                           (ROOT / "README.md").read_text(encoding="utf-8"), re.DOTALL)
# The README example's export: ";", decimal comma, cents, US dates, Windows-1252.
EXPORT = (
    "Job #;Customer Name;Street;Street Line 2;City;State;Zip;XOi Completed;XOi Share;"
    "Invoice Date;Item;Qty;Price\r\n"
    "1042;Renée Côté;12 Rue Saint-Paul;;Montréal;QC;H2Y 1G6;Completed;"
    "shrReadme1042abcdefghij;11/28/2026;Heat pump tune-up;1;12950\r\n"
    "1042;Renée Côté;12 Rue Saint-Paul;;Montréal;QC;H2Y 1G6;Completed;"
    "shrReadme1042abcdefghij;11/28/2026;Labour;1,5;8000\r\n"
    "1043;Hank Müller;9 Oak Ave;Unit 2;Boise;ID;83702;Done;shrReadme1043abcdefghij;"
    "11/28/2026;Filter;1.000;1250\r\n"
    "1044;Ida Bell;3 Pine Rd;;Reno;NV;89501;Pending;;11/28/2026;Visit;1;5000\r\n"
)


def run(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = invoke(runner, *args)
    return result.exit_code, result.stdout, result.stderr


def one_pdf(out: Path, name: str) -> Path:
    return out / "invoices" / f"{name}.pdf"


def test_the_readme_example_works_as_written(runner: CliRunner, tmp_path: Path) -> None:
    assert README_MAPPING is not None
    (tmp_path / "mapping.toml").write_text(README_MAPPING[1], encoding="utf-8")
    (tmp_path / "export.csv").write_bytes(EXPORT.encode("cp1252"))
    code, _, err = run(runner, "run", "export.csv", "--mapping", "mapping.toml",
                       "--out", "out", "--workers", "1")
    assert code == 0, err
    data = report(tmp_path / "out")
    assert data["rendered"] == ["1042", "1043"] and data["unconfirmed"] == ["1044"]
    pdf = one_pdf(tmp_path / "out", "INV-1042")
    text = pdf_text(pdf)
    # 129.50 + 1.5 x 80.00 = 249.50; the address joined, its blank part skipped.
    assert "Renée Côté" in text and "$249.50" in text
    assert "12 Rue Saint-Paul, Montréal, QC, H2Y 1G6" in " ".join(text.split())
    assert set(link_uris(pdf)) == {"https://vision.xoeye.io/share/shrReadme1042abcdefghij"}
    # "1.000" with a decimal comma is one thousand: 1000 x 12.50.
    assert "$12,500.00" in pdf_text(one_pdf(tmp_path / "out", "INV-1043"))


def test_servicetitan_example_renders(runner: CliRunner, tmp_path: Path) -> None:
    folder = EXAMPLES / "servicetitan"
    code, _, err = run(runner, "run", str(folder / "invoices.json"), "--mapping",
                       str(folder / "mapping.toml"), "--out", "out", "--workers", "1")
    assert code == 0, err
    data = report(tmp_path / "out")
    assert data["rendered"] == ["41077", "41081"] and data["unconfirmed"] == ["41085"]
    pdf = one_pdf(tmp_path / "out", "INV-50811")
    text = " ".join(pdf_text(pdf).split())
    # 89.00 + 129.50 + 1.5 x 95.00
    assert "Karen Whitfield" in text and "$361.00" in text and "Marcus Reyes" in text
    assert "Run Capacitor 45/5 MFD" in text and "11/28/2026" in text
    assert set(link_uris(pdf)) == {"https://vision.xoeye.io/share/k7Qm2xR9vT4pL8sN3wZ6yB1c"}
    suite = " ".join(pdf_text(one_pdf(tmp_path / "out", "INV-50812")).split())
    assert "1550 Larimer St, Suite 400, Denver, CO, 80202" in suite and "$488.00" in suite


def test_housecall_pro_examples_render(runner: CliRunner, tmp_path: Path) -> None:
    folder = EXAMPLES / "housecall-pro"
    code, _, err = run(runner, "run", str(folder / "invoices.csv"), "--mapping",
                       str(folder / "mapping.toml"), "--out", "us", "--workers", "1")
    assert code == 0, err
    assert report(tmp_path / "us")["unconfirmed"] == ["J-20940"]
    pdf = one_pdf(tmp_path / "us", "1042")
    text = " ".join(pdf_text(pdf).split())
    # Cents: 1,249.00 + 89.50 + 2.5 x 110.00
    assert "Harbor View Apartments" in text and "$1,613.50" in text
    assert "410 Seawall Blvd, Bldg C, Galveston, TX, 77550" in text
    assert set(link_uris(pdf)) == {"https://vision.xoeye.io/share/hcpS7fK2mQ9xV4bN8pL3tR6w"}
    code, _, err = run(runner, "run", str(folder / "invoices-eu.csv"), "--mapping",
                       str(folder / "mapping-eu.toml"), "--out", "eu", "--workers", "1")
    assert code == 0, err
    pdf = one_pdf(tmp_path / "eu", "R-2026-118")
    text = " ".join(pdf_text(pdf).split())
    # (1.234,50 + 2,5 x 48,90) x 1.19, from Windows-1252 text
    assert "Bäckerei Müller GmbH" in text and "€1,614.53" in text and "Jürgen Weiß" in text
    assert set(link_uris(pdf)) == {"https://vision.xoeye.io/share/hcpE4uH7jN2sQ8wL5rT1yX3z"}


def test_validate_and_launch_take_the_mapping(runner: CliRunner, tmp_path: Path) -> None:
    folder = EXAMPLES / "housecall-pro"
    code, out, _ = run(runner, "validate", str(folder / "invoices-eu.csv"), "--mapping",
                       str(folder / "mapping-eu.toml"))
    assert (code, out) == (0, "checked 3 work orders: 2 confirmed, 1 unconfirmed, "
                              "0 rejected, 0 warnings\n")
    code, out, _ = run(runner, "launch", str(folder / "invoices.csv"), "--mapping",
                       str(folder / "mapping.toml"), "--out", "out")
    assert code == 0 and out.startswith("wrote 3 launch pages")
    assert "Harbor View Apartments" in (tmp_path / "out/launch/J-20931.html").read_text()
    code, out, err = run(runner, "launch", "--ticket", "T", "--customer", "C", "--location",
                         "L", "--mapping", str(folder / "mapping.toml"))
    assert code == 2 and "--mapping goes with INPUT files, not with --ticket" in err


def test_the_configuration_file_names_the_mapping_beside_it(runner: CliRunner,
                                                            tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    shutil.copytree(EXAMPLES / "housecall-pro", conf)
    (conf / "xoi-invoices.toml").write_text('mapping = "mapping.toml"\n')
    code, out, err = run(runner, "validate", str(conf / "invoices.csv"), "--config",
                         str(conf / "xoi-invoices.toml"))
    assert code == 0, err
    assert "2 confirmed, 1 unconfirmed, 0 rejected" in out


def test_a_problem_names_the_export_column_with_ours(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "m.toml").write_text('[fields]\nservice_ticket = "Job #"\n'
                                     'location = "Job Address"\ncustomer = "Client"\n'
                                     'item_unit_price = "Price"\n')
    (tmp_path / "export.csv").write_text(
        "Job #,Client,Job Address,confirmed,item_description,Price\n"
        "1041,Ann,1 Main St,yes,Visit,10\n1042,Bob,,yes,Visit,ten\n")
    code, _, err = run(runner, "validate", "export.csv", "--mapping", "m.toml")
    assert code == 1
    assert err.splitlines() == [
        "export.csv:3: ticket 1042: Job Address (location): required, but blank or missing; "
        "Price (item_unit_price): 'ten' is not a number"]


def test_a_column_the_file_lacks_is_one_error(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "m.toml").write_text('[fields]\nlocation = "Job Adress"\n')
    (tmp_path / "export.csv").write_text(
        "service_ticket,customer,Job Address,confirmed\n1,Ann,1 Main St,yes\n")
    code, _, err = run(runner, "validate", "export.csv", "--mapping", "m.toml")
    assert code == 2
    assert err == ("Error: export.csv:1: the mapping m.toml names column 'Job Adress' "
                   "(location; closest: 'Job Address'), which this file does not have; its "
                   "columns: service_ticket, customer, Job Address, confirmed\n")


def test_a_json_path_in_no_work_order_is_one_error(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "m.toml").write_text('[fields]\ncustomer = "client.nmae"\n')
    (tmp_path / "export.json").write_text(
        '[{"service_ticket": "1", "client": {"name": "Ann"}, "location": "x", '
        '"confirmed": "yes"}]')
    code, _, err = run(runner, "validate", "export.json", "--mapping", "m.toml")
    assert code == 2
    assert error_line_of(err) == (
        "Error: export.json: the mapping m.toml names path 'client.nmae' (customer; "
        "closest: 'client.name'), which this file does not have; its paths: "
        "service_ticket, client.name, location, confirmed")


def error_line_of(stderr: str) -> str:
    [line] = [line for line in stderr.splitlines() if line.startswith("Error: ")]
    return line


def test_mistakes_in_the_mapping_name_its_line(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "export.csv").write_text("service_ticket,customer,location,confirmed\n")
    cases = {
        '[fields]\ncustomer = "A"\ncustomr_name = "B"\n':
            "m.toml:3: [fields] customr_name: unknown key",
        '[format]\n\ndate = "%m/%Q/%Y"\n':
            "m.toml:3: [format] date: '%m/%Q/%Y' is not a strptime format with a year, a "
            "month and a day, like %m/%d/%Y or %d.%m.%Y",
        '[format]\ndate = "%m/%d"\n': "m.toml:2: [format] date: '%m/%d' is not a strptime",
        '[fields]\ncustomer = "A"\n[values]\ncustomer = "Acme"\n':
            "m.toml:4: [values] customer: mapped twice: also in [fields]",
        '[fields]\ncustomer = "A"\nCustomer = "B"\n':
            "m.toml:3: [fields] Customer: given twice (keys ignore letter case and spaces)",
        '[fields]\ncustomer = "A"\ncustomer = "B"\n':
            "m.toml:3: invalid TOML: a key given twice",
        '[fiels]\ncustomer = "A"\n': "m.toml:1: 'fiels': unknown key; a mapping has",
        '[format]\ndecimal = ";"\n': "m.toml:2: [format] decimal: ';' is not \".\" or \",\"",
        '[format]\nencoding = "klingon"\n': "m.toml:2: [format] encoding: 'klingon' is not",
        '[values]\ncurrency = "EURO"\n': "m.toml:2: [values] currency: 'EURO' is not an ISO",
        '[fields]\nservice_ticket = ["A", "B"]\n':
            "m.toml:2: [fields] service_ticket: takes one column, not a list",
    }
    for text, expected in cases.items():
        (tmp_path / "m.toml").write_text(text)
        code, _, err = run(runner, "validate", "export.csv", "--mapping", "m.toml")
        assert code == 2, text
        assert error_line_of(err).startswith(f"Error: {expected}"), (text, err)


def test_draft_of_a_csv_export(runner: CliRunner, tmp_path: Path) -> None:
    code, out, err = run(runner, "mapping", "draft",
                         str(EXAMPLES / "housecall-pro/invoices.csv"))
    assert code == 0, err
    lines = out.splitlines()
    for line in ('service_ticket = "Job #"  # required: the work order number',
                 'customer = "Customer"  # required', 'invoice_number = "Invoice Number"',
                 'location = ["Street", "Street Line 2", "City", "State", "Zip"]  # required: '
                 "the job's address (a list of parts is joined)",
                 'confirmed = "XOi Completed"  # required column: the technician\'s yes/no '
                 "answer", 'share_id = "XOi Share"', 'item_quantity = "Qty"',
                 'item_unit_price = "Unit Price"', 'due_date = "Due Date"', '# tags = ""',
                 '#   "Job Tags"',
                 'date = "%m/%d/%Y"          # dates like 11/28/2026 seen; or %d/%m/%Y?'):
        assert line in lines, (line, out)
    (tmp_path / "draft.toml").write_text(out)
    assert load_mapping(tmp_path / "draft.toml").fields["customer"] == ("Customer",)
    eu = invoke(runner, "mapping", "draft", str(EXAMPLES / "housecall-pro/invoices-eu.csv"))
    assert {'delimiter = ";"', 'decimal = ","              # amounts like 1.234,50 seen',
            'date = "%d.%m.%Y"          # dates like 28.11.2026 seen'} <= \
        set(eu.stdout.splitlines())
    assert eu.stdout.splitlines()[-4].startswith('encoding = "cp1252"')


def test_draft_knows_common_names_and_leaves_the_rest_to_the_clerk(
        runner: CliRunner, tmp_path: Path) -> None:
    export = tmp_path / "jobs.csv"
    export.write_text("Job #,Customer Name,Service Address,Line Item,Qty,Rate,Completed,"
                      "XOi Share ID,Job Source\n1001,Acme,1 Main St,Capacitor,1,120.00,Yes,"
                      "VOn5QaD5wyL0aXe2cbjSVz,Referral\n")
    out = invoke(runner, "mapping", "draft", str(export)).stdout
    lines = out.splitlines()
    for line in ('item_description = "Line Item"', 'share_id = "XOi Share ID"',
                 'confirmed = "Completed"  # required column: the technician\'s yes/no answer',
                 'location = "Service Address"  # required: the job\'s address (a list of '
                 'parts is joined)', '#   "Job Source"', '# technician = ""'):
        assert line in lines, (line, out)
    (tmp_path / "draft.toml").write_text(out)
    checked = invoke(runner, "validate", str(export), "--mapping", str(tmp_path / "draft.toml"))
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.startswith("checked 1 work order: 1 confirmed, 0 unconfirmed, 0 rejected")


def test_draft_of_a_nested_json_export(runner: CliRunner, tmp_path: Path) -> None:
    code, out, err = run(runner, "mapping", "draft",
                         str(EXAMPLES / "servicetitan/invoices.json"))
    assert code == 0, err
    lines = out.splitlines()
    for line in ('records = "data"', 'customer = "customer.name"  # required',
                 'service_ticket = "job.number"  # required: the work order number',
                 'confirmed = "customFields[name=XOi Completed].value"  # required column: '
                 "the technician's yes/no answer",
                 'share_id = "customFields[name=XOi Share].value"',
                 'invoice_date = "invoiceDate"', 'item_unit_price = "price"',
                 'line_items = "items"  # paths of item_* fields are inside one item'):
        assert line in lines, (line, out)
    (tmp_path / "draft.toml").write_text(out)
    assert load_mapping(tmp_path / "draft.toml").line_items == "items"


def test_draft_of_a_missing_file(runner: CliRunner) -> None:
    code, _, err = run(runner, "mapping", "draft", "nope.csv")
    assert (code, err) == (2, "Error: nope.csv: no such file\n")


def test_a_mapping_change_re_renders_only_what_it_changes(runner: CliRunner,
                                                          tmp_path: Path) -> None:
    folder = tmp_path / "hcp"
    shutil.copytree(EXAMPLES / "housecall-pro", folder)
    export = folder / "invoices.csv"
    # A second technician column: the same name as "Assigned Employee" but on J-20935.
    rows = export.read_text().splitlines()
    rows = [rows[0] + ",Lead Tech"] + [row + ("," + ("Ravi Shah" if "J-20935" in row
                                                      else "Dana Kim")) for row in rows[1:]]
    export.write_text("\n".join(rows) + "\n")
    mapping = folder / "mapping.toml"
    args = ("run", str(export), "--mapping", str(mapping), "--out", "out", "--workers", "1")
    assert run(runner, *args)[0] == 0
    assert report(tmp_path / "out")["rendered"] == ["J-20931", "J-20935"]
    mapping.write_text(mapping.read_text().replace('technician = "Assigned Employee"',
                                                   'technician = "Lead Tech"'))
    assert run(runner, *args)[0] == 0
    data = report(tmp_path / "out")
    assert (data["rendered"], data["unchanged"]) == (["J-20935"], ["J-20931"])
    assert "Ravi Shah" in pdf_text(one_pdf(tmp_path / "out", "1043"))
    mapping.write_text("# reviewed 2026-11-30\n" + mapping.read_text())
    assert run(runner, *args)[0] == 0
    data = report(tmp_path / "out")
    assert (data["rendered"], data["unchanged"]) == ([], ["J-20931", "J-20935"])


def test_a_share_id_clash_names_the_exports_column(runner: CliRunner, tmp_path: Path) -> None:
    # Found by the link rules, not the validator: it must name the column all the same,
    # in validate and in launch (for launch pages, the same rule).
    (tmp_path / "mapping.toml").write_text(README_MAPPING[1] if README_MAPPING else "",
                                           encoding="utf-8")
    clash = EXPORT.replace("shrReadme1043abcdefghij", "shrReadme1042abcdefghij")
    (tmp_path / "export.csv").write_bytes(clash.encode("cp1252"))
    expected = ("export.csv:4: ticket 1043: XOi Share (share_id): 'shrReadme1042abcdefghij' "
                "is already the share ID of ticket 1042")
    code, _, err = run(runner, "validate", "export.csv", "--mapping", "mapping.toml")
    assert code == 1 and expected in err, err
    code, _, err = run(runner, "launch", "export.csv", "--mapping", "mapping.toml",
                       "--out", "out")
    assert code == 1 and expected in err, err
