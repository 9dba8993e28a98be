"""What an invoice PDF carries besides its pages: embedded files and the XMP packet.

A PDF/A-3b invoice embeds ``invoice.json``, the invoice's facts. A Factur-X e-invoice also
embeds ``factur-x.xml`` as the PDF's alternative form (``/AFRelationship /Alternative``,
MIME ``text/xml``) and says so in its XMP packet. WeasyPrint writes both files, the
catalog's ``/AF`` and the packet with the PDF/A identification; a finisher then adds our
descriptions to that same packet, so the PDF/A identification, PDF/UA's and the Factur-X
fields are one packet with their extension schemas (a second packet, or a library that
rewrites the file, loses one of them, and a validator refuses the invoice).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, time
from typing import Any

import pydyf  # type: ignore[import-untyped]
from weasyprint import Attachment

from ..core.config import Settings
from ..core.models import Invoice
from .factur_x import FILE_NAME, factur_x

EMBEDDED_DATA = "invoice.json"

_EXTENSION = """<rdf:Description rdf:about=""
 xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/"
 xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#"
 xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">
<pdfaExtension:schemas><rdf:Bag>{schemas}</rdf:Bag></pdfaExtension:schemas>
</rdf:Description>"""
_SCHEMA = """<rdf:li rdf:parseType="Resource">
<pdfaSchema:schema>{title}</pdfaSchema:schema>
<pdfaSchema:namespaceURI>{uri}</pdfaSchema:namespaceURI>
<pdfaSchema:prefix>{prefix}</pdfaSchema:prefix>
<pdfaSchema:property><rdf:Seq>{properties}</rdf:Seq></pdfaSchema:property>
</rdf:li>"""
_PROPERTY = """<rdf:li rdf:parseType="Resource">
<pdfaProperty:name>{name}</pdfaProperty:name>
<pdfaProperty:valueType>{kind}</pdfaProperty:valueType>
<pdfaProperty:category>{category}</pdfaProperty:category>
<pdfaProperty:description>{description}</pdfaProperty:description>
</rdf:li>"""
FACTUR_X_NS = "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#"
PDFUA_NS = "http://www.aiim.org/pdfua/ns/id/"
# Factur-X 1.0's XMP fields, each (name, value, description) (its specification, §6.2.2).
FACTUR_X_FIELDS = (
    ("DocumentType", "INVOICE", "INVOICE"),
    ("DocumentFileName", FILE_NAME, "The name of the embedded XML document"),
    ("Version", "1.0", "The actual version of the Factur-X XML schema"),
    ("ConformanceLevel", "EN 16931", "The conformance level of the embedded Factur-X data"),
)


def _schema(title: str, uri: str, prefix: str,
            properties: tuple[tuple[str, str, str, str], ...]) -> str:
    return _SCHEMA.format(title=title, uri=uri, prefix=prefix, properties="".join(
        _PROPERTY.format(name=name, kind=kind, category=category, description=description)
        for name, kind, category, description in properties))


def descriptions(*, factur_x: bool, tagged: bool) -> bytes:
    """What a PDF/A-3b packet needs beyond WeasyPrint's own: the Factur-X fields and the
    PDF/UA identification, each with the extension schema PDF/A asks for a namespace it
    does not define."""
    schemas, values = [], []
    if factur_x:
        schemas.append(_schema("Factur-X PDFA Extension Schema", FACTUR_X_NS, "fx", tuple(
            (name, "Text", "external", description)
            for name, _, description in FACTUR_X_FIELDS)))
        values.append(f'<rdf:Description rdf:about="" xmlns:fx="{FACTUR_X_NS}">' + "".join(
            f"<fx:{name}>{value}</fx:{name}>" for name, value, _ in FACTUR_X_FIELDS)
            + "</rdf:Description>")
    if tagged:
        schemas.append(_schema("PDF/UA Universal Accessibility Schema", PDFUA_NS, "pdfuaid",
                               (("part", "Integer", "internal",
                                 "Indicates, which part of ISO 14289 standard is followed"),)))
        values.append(f'<rdf:Description rdf:about="" xmlns:pdfuaid="{PDFUA_NS}" '
                      'pdfuaid:part="1"/>')
    return (_EXTENSION.format(schemas="".join(schemas)) + "".join(values)).encode()


def _finisher(extra: bytes) -> Callable[[Any, Any], None]:
    def finish(document: Any, pdf: Any) -> None:
        # WeasyPrint 70 lists each embedded file twice in the catalog's /AF; once is right.
        if "AF" in pdf.catalog:
            pdf.catalog["AF"] = pydyf.Array(dict.fromkeys(pdf.catalog["AF"]))
        if extra:
            metadata = pdf.objects[int(pdf.catalog["Metadata"].split()[0])]
            packet = b"".join(metadata.stream)
            end = packet.rindex(b"</rdf:RDF>")
            metadata.stream = [packet[:end] + extra + packet[end:]]
    return finish


def write_options(invoice: Invoice, settings: Settings, labels: dict[str, str],
                  fetcher: Any) -> tuple[dict[str, Any], bytes | None]:
    """WeasyPrint's ``write_pdf`` options for the run's kind of PDF, and the e-invoice XML
    embedded (``None``: not an e-invoice)."""
    variant, einvoice = settings.pdf_variant, settings.einvoice is not None
    if variant != "pdf/a-3b" and not einvoice:
        return ({"pdf_variant": variant} if variant else {}), None
    tagged = variant == "pdf/ua-1"
    options: dict[str, Any] = {"pdf_variant": "pdf/a-3b", "pdf_tags": tagged}
    # Dated by the invoice, not the clock: the same input gives the same bytes.
    issued = datetime.combine(invoice.invoice_date, time(), tzinfo=UTC)
    number = invoice.order.invoice_number
    attachments, xml = [], None
    if einvoice:
        xml = factur_x(invoice, settings.company, labels)
        # A data: URI, so the file's MIME type is text/xml as Factur-X asks (WeasyPrint
        # guesses application/xml from the name).
        attachments.append(Attachment(
            url="data:text/xml;base64," + base64.b64encode(xml).decode(),
            url_fetcher=fetcher, name=FILE_NAME, description=f"Invoice {number} as a "
            "Factur-X e-invoice (EN 16931)", created=issued, modified=issued,
            relationship="Alternative"))
    attachments.append(Attachment(
        string=json.dumps(invoice.as_data(), indent=2, ensure_ascii=False),
        name=EMBEDDED_DATA, description=f"Invoice {number} as machine-readable data",
        created=issued, modified=issued, relationship="Data"))
    options["attachments"] = attachments
    options["finisher"] = _finisher(descriptions(factur_x=einvoice, tagged=tagged)
                                    if einvoice or tagged else b"")
    return options, xml
