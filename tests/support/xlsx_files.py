#!/usr/bin/python3
"""Workbooks for the XLSX tests (Debian's python3-openpyxl; zipfile for the
hostile ones, which no spreadsheet program would write).

  xlsx_files.py from-csv IN.csv OUT.xlsx [PREFIX]
      the CSV as a workbook as an office would type it: dates as dates,
      figures and codes as numbers, text as text; PREFIX replaces the
      first 8 characters of every report_id (fresh reports per test door)
  xlsx_files.py fill-template TEMPLATE.xlsx IN.csv OUT.xlsx [bad]
      the template filled as an office would: one CSV report per row from
      row 2 on, under the columns the template titles (found through its
      instructions sheet), keeping the template's report ids, revisions and
      county; prints the ids used.  "bad": row 5's participants -5 and row
      9's theme 天气 (openpyxl does not enforce the drop-downs)
  xlsx_files.py hostile DIR
      DIR/zip-bomb.xlsx, zip-bomb-lying.xlsx (sizes in the zip rewritten), entity-bomb.xlsx, million-empty-rows.xlsx,
      truncated.xlsx (from-csv output cut in half: give it as DIR/whole.xlsx)
"""
import csv
import datetime
import sys
import zipfile

NUMBERS = {"revision", "county_code", "sessions", "participants", "materials", "consultations",
           "banners", "led_messages", "online_posts", "online_views", "volunteers", "funds_fen"}
DATES = {"occurred_on", "ended_on"}


def typed(name, v):
    if name in DATES:
        return datetime.date.fromisoformat(v)
    if name in NUMBERS:
        return int(v)
    return v


def fill_template(tmpl, src, dst, bad=False):
    import openpyxl
    wb = openpyxl.load_workbook(tmpl)
    ws = wb.worksheets[0]
    titles = [str(c.value).strip("*") for c in ws[1]]
    column = {}
    for row in wb["填写说明"].iter_rows(values_only=True):
        if len(row) > 1 and row[0] in titles and row[1]:
            column[row[1]] = titles.index(row[0]) + 1
    with open(src, encoding="utf-8-sig", newline="") as f:
        reports = list(csv.DictReader(f))
    for i, rec in enumerate(reports):
        r = i + 2
        for name, v in rec.items():
            if name in ("report_id", "revision", "county_code") or v == "":
                continue
            ws.cell(row=r, column=column[name], value=typed(name, v))
        print(ws.cell(row=r, column=column["report_id"]).value)
    if bad:
        ws.cell(row=5, column=column["participants"], value=-5)
        ws.cell(row=9, column=column["theme"], value="天气")
    wb.save(dst)


def from_csv(src, dst, prefix=None):
    import openpyxl
    with open(src, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "活动"
    ws.append(rows[0])
    for row in rows[1:]:
        out = []
        for name, v in zip(rows[0], row):
            if name == "report_id" and prefix:
                v = prefix + v[8:]
            if v == "":
                out.append(None)
            elif name in DATES:
                out.append(datetime.date.fromisoformat(v))
            elif name in NUMBERS:
                out.append(int(v))
            else:
                out.append(v)
        ws.append(out)
    for c in range(1, len(rows[0]) + 1):
        for r in range(2, len(rows) + 1):
            cell = ws.cell(row=r, column=c)
            if rows[0][c - 1] in DATES:
                cell.number_format = "yyyy-mm-dd"
    wb.save(dst)


NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
RELS_NS = 'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"'
REL_T = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"


def workbook(path, sheet, sst=None):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("_rels/.rels", f'<Relationships {RELS_NS}><Relationship Id="rId1" '
                   f'Type="{REL_T}officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml", f'<workbook {NS} xmlns:r="{REL_T[:-1]}"><sheets>'
                   '<sheet name="s" sheetId="1" r:id="rId1"/></sheets></workbook>')
        rels = (f'<Relationship Id="rId1" Type="{REL_T}worksheet" '
                'Target="worksheets/sheet1.xml"/>')
        if sst is not None:
            rels += (f'<Relationship Id="rId2" Type="{REL_T}sharedStrings" '
                     'Target="sharedStrings.xml"/>')
            z.writestr("xl/sharedStrings.xml", sst)
        z.writestr("xl/_rels/workbook.xml.rels", f"<Relationships {RELS_NS}>{rels}</Relationships>")
        z.writestr("xl/worksheets/sheet1.xml", sheet)


def hostile(d):
    # 200 MiB of white space inside the sheet: about 200 KiB zipped.
    workbook(f"{d}/zip-bomb.xlsx", f"<worksheet {NS}><sheetData>" + " " * (200 << 20) +
             "</sheetData></worksheet>")
    # The same with its sizes rewritten to 1000 bytes (local header and
    # central directory): only counting while inflating can stop it.
    with open(f"{d}/zip-bomb.xlsx", "rb") as f:
        data = bytearray(f.read())
    with zipfile.ZipFile(f"{d}/zip-bomb.xlsx") as z:
        info = z.getinfo("xl/worksheets/sheet1.xml")
    real = info.file_size.to_bytes(4, "little")
    assert data[info.header_offset + 22:info.header_offset + 26] == real
    data[info.header_offset + 22:info.header_offset + 26] = (1000).to_bytes(4, "little")
    name = info.filename.encode()
    central = data.find(b"PK\x01\x02", info.header_offset + 30)
    while data[central + 46:central + 46 + len(name)] != name:
        central = data.find(b"PK\x01\x02", central + 4)
    assert data[central + 24:central + 28] == real
    data[central + 24:central + 28] = (1000).to_bytes(4, "little")
    with open(f"{d}/zip-bomb-lying.xlsx", "wb") as f:
        f.write(data)
    lol = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">' +
           "".join(f'<!ENTITY lol{i} "' + ("&lol%s;" % (i - 1 if i > 1 else "")) * 10 + '">'
                   for i in range(1, 10)) + f"]><sst {NS}><si><t>&lol9;</t></si></sst>")
    workbook(f"{d}/entity-bomb.xlsx", f"<worksheet {NS}><sheetData/></worksheet>", sst=lol)
    workbook(f"{d}/million-empty-rows.xlsx", f"<worksheet {NS}><sheetData>" +
             "".join(f'<row r="{i}"/>' for i in range(1, 1000001)) + "</sheetData></worksheet>")
    with open(f"{d}/whole.xlsx", "rb") as f:
        whole = f.read()
    with open(f"{d}/truncated.xlsx", "wb") as f:
        f.write(whole[: len(whole) // 2])


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "from-csv":
        from_csv(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
    elif len(sys.argv) >= 5 and sys.argv[1] == "fill-template":
        fill_template(sys.argv[2], sys.argv[3], sys.argv[4], len(sys.argv) > 5 and sys.argv[5] == "bad")
    elif len(sys.argv) == 3 and sys.argv[1] == "hostile":
        hostile(sys.argv[2])
    else:
        sys.exit(__doc__)
