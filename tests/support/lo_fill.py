#!/usr/bin/python3
"""The template filled in by LibreOffice Calc, headless, through its Python
bridge (Debian's libreoffice-calc-nogui and python3-uno; run with Debian's
/usr/bin/python3, which is the python the uno module is built for).

  lo_fill.py check
      exit 0 when soffice and the uno module are there; else exit 77 and
      say what is missing (the test then skips)
  lo_fill.py fill WORKDIR SAMPLE.jsonl TEMPLATE OUT [TEMPLATE OUT ...]
      starts one soffice with a private profile in WORKDIR/profile and a
      pipe named after this process (tests in parallel never meet), and for
      each TEMPLATE: opens it, types the sample's reports into the rows
      under the Chinese titles as a person would (the text of each cell as
      typed, so Calc itself turns dates and figures into values; theme,
      venue, form and unit picked from the cell's own drop-down list; the
      pre-filled id, revision and county left alone), and stores it as
      "Calc MS Excel 2007 XML" in OUT.  An OUT ending in ":bad" also gets
      row 5's participants -5 and row 9's theme 天气 (Calc's API does not
      enforce the drop-downs, as openpyxl does not).  Prints one JSON
      object: the timings, for each OUT the report ids typed in and the
      cell kinds Calc made of them, and what the saved file holds (cell
      types, formulas, rich-text runs, the date system).  soffice is
      stopped at the end, killed (its whole process group) if it lingers,
      on any error or on SIGTERM (the test's `timeout`).
"""
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
import zipfile

CONNECT_S = 180   # a cold start on a loaded machine
EXIT_S = 60
PREFILLED = {"report_id", "revision", "county_code"}
DATES = {"occurred_on", "ended_on"}
TEXTS = {"report_id", "county_code", "township", "unit_code", "unit_name", "theme", "venue",
         "form", "campaign", "title"}


def soffice_path():
    for p in (shutil.which("soffice"), "/usr/lib/libreoffice/program/soffice"):
        if p and os.access(p, os.X_OK):
            return p
    return None


def check():
    missing = []
    if not soffice_path():
        missing.append("soffice (Debian: libreoffice-calc-nogui)")
    try:
        import uno  # noqa: F401
    except ImportError as e:
        missing.append(f"the uno module for {sys.executable} (Debian: python3-uno): {e}")
    if missing:
        print("LibreOffice missing: " + "; ".join(missing) +
              " (deploy/install-deps.sh installs them)")
        return 77
    print("LibreOffice: " + soffice_path())
    return 0


def props(**kw):
    from com.sun.star.beans import PropertyValue
    return tuple(PropertyValue(Name=k, Value=v) for k, v in kw.items())


def connect(proc, pipe, log):
    import uno
    from com.sun.star.connection import NoConnectException
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext(
        "com.sun.star.bridge.UnoUrlResolver", local)
    deadline = time.monotonic() + CONNECT_S
    while True:
        try:
            ctx = resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
            return ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
        except NoConnectException:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"soffice exited ({proc.returncode}) before it answered: "
                               + pathlib.Path(log).read_text(errors="replace")[-2000:])
        if time.monotonic() > deadline:
            raise RuntimeError(f"soffice did not answer on pipe {pipe} within {CONNECT_S} s")
        time.sleep(0.2)


class DropDowns:
    """The values a person sees in a cell's drop-down list (data validation)."""

    def __init__(self, doc, sheet):
        self.doc, self.sheet, self.cache = doc, sheet, {}

    def values(self, col, row):
        if col in self.cache:
            return self.cache[col]
        v = self.sheet.getCellByPosition(col, row).Validation
        out = None
        if v.Type.value == "LIST":
            f = v.getFormula1().lstrip("=")
            if f.startswith('"'):  # an explicit list: "true";"false"
                out = [s.replace('""', '"') for s in re.findall(r'"((?:[^"]|"")*)"', f)]
            else:  # a range: $lists.$A$2:$A$17 (or lists!$A$2:$A$17)
                names = [n for n in self.doc.Sheets.ElementNames if n in f]
                if not names:
                    raise RuntimeError(f"drop-down of column {col}: no sheet in '{f}'")
                name = max(names, key=len)
                refs = re.findall(r"\$?([A-Z]{1,3})\$?([0-9]+)", f.replace(name, ""))
                if not refs:
                    raise RuntimeError(f"drop-down of column {col}: no range in '{f}'")
                area = f"{refs[0][0]}{refs[0][1]}:{refs[-1][0]}{refs[-1][1]}"
                data = self.doc.Sheets.getByName(name).getCellRangeByName(area).DataArray
                out = [str(r[0]) for r in data if r[0] != ""]
            strict = v.ErrorAlertStyle.value == "STOP"
            out = (out, strict)
        self.cache[col] = out
        return out


def typed_text(field, v):
    if isinstance(v, bool):
        return "true" if v else ""
    if v is None:
        return ""
    return str(v)


def fill_one(desktop, template, out, reports, bad):
    import uno
    t0 = time.monotonic()
    doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(os.path.abspath(template)),
                                       "_blank", 0, props(Hidden=True))
    if doc is None:
        raise RuntimeError(f"{template}: LibreOffice could not open it")
    try:
        t_open = time.monotonic()
        sheet = doc.Sheets.getByIndex(0)
        titles = []
        for c in range(0, 200):
            s = sheet.getCellByPosition(c, 0).String
            if not s:
                break
            titles.append(s.lstrip("*"))
        # The instructions sheet says which field each title is.
        guide = doc.Sheets.getByName("填写说明")
        column = {}
        for row in guide.getCellRangeByPosition(0, 0, 1, 199).DataArray:
            if isinstance(row[0], str) and row[0] in titles and isinstance(row[1], str) and row[1]:
                column[row[1]] = titles.index(row[0])
        drops = DropDowns(doc, sheet)
        ids, kinds, picked = [], {}, 0
        for i, rec in enumerate(reports):
            r = i + 1  # 0-based: row 2 in Excel's numbers
            for field, v in rec.items():
                text = typed_text(field, v)
                if field in PREFILLED or text == "":
                    continue
                if field not in column:
                    raise RuntimeError(f"{template}: no column titled for field {field}")
                c = column[field]
                dd = drops.values(c, r)
                if dd and dd[0] is not None:
                    choices, strict = dd
                    if text in choices:
                        text = choices[choices.index(text)]
                        picked += 1
                    elif strict:
                        raise RuntimeError(f"{template}: {field} '{text}' is not in the "
                                           f"drop-down list {choices}")
                cell = sheet.getCellByPosition(c, r)
                cell.setFormula(text)  # as typed: Calc's own input recognition
                if i == 0:
                    kinds[field] = cell.Type.value
            ids.append(sheet.getCellByPosition(column["report_id"], r).String)
        if bad:
            sheet.getCellByPosition(column["participants"], 4).setFormula("-5")
            sheet.getCellByPosition(column["theme"], 8).setFormula("天气")
        t_typed = time.monotonic()
        doc.storeToURL(uno.systemPathToFileUrl(os.path.abspath(out)),
                       props(FilterName="Calc MS Excel 2007 XML", Overwrite=True))
        t_stored = time.monotonic()
    finally:
        doc.close(True)
    return {"out": out, "ids": ids, "kinds": kinds, "picked_from_drop_downs": picked,
            "open_ms": round((t_open - t0) * 1000), "type_ms": round((t_typed - t_open) * 1000),
            "store_ms": round((t_stored - t_typed) * 1000), "saved": saved_shape(out)}


MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def saved_shape(path):
    """What LibreOffice wrote: the reader has to take all of it."""
    with zipfile.ZipFile(path) as z:
        wb = ET.fromstring(z.read("xl/workbook.xml"))
        pr = wb.find(f"{MAIN}workbookPr")
        first = wb.find(f"{MAIN}sheets/{MAIN}sheet")
        rid = first.get("{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id")
        rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
        target = next(r.get("Target") for r in rels if r.get("Id") == rid)
        part = "xl/" + target.lstrip("/").removeprefix("xl/")
        sheet = ET.fromstring(z.read(part))
        types = {}
        formulas = 0
        for c in sheet.iter(f"{MAIN}c"):
            if c.find(f"{MAIN}v") is None and c.find(f"{MAIN}is") is None:
                continue
            t = c.get("t", "(none)")
            types[t] = types.get(t, 0) + 1
            formulas += c.find(f"{MAIN}f") is not None
        runs = 0
        if "xl/sharedStrings.xml" in z.namelist():
            runs = sum(1 for _ in ET.fromstring(z.read("xl/sharedStrings.xml")).iter(f"{MAIN}r"))
        styles = ET.fromstring(z.read("xl/styles.xml"))
        fmts = sorted({f.get("formatCode") for f in styles.iter(f"{MAIN}numFmt")})
        return {"sheet": first.get("name"), "part": part, "cell_types": types,
                "formulas": formulas, "rich_text_runs": runs,
                "date1904": pr.get("date1904") if pr is not None else None,
                "num_formats": fmts}


def fill(workdir, sample, jobs):
    import uno  # noqa: F401  (fail here, before soffice starts, if it is missing)
    with open(sample, encoding="utf-8") as f:
        reports = [json.loads(line) for line in f if line.strip()]
    profile = pathlib.Path(workdir, "profile").resolve()
    log = pathlib.Path(workdir, "soffice.log")
    pipe = f"pufa-lo-{os.getpid()}"
    t0 = time.monotonic()
    with open(log, "wb") as logf:
        proc = subprocess.Popen(
            [soffice_path(), f"-env:UserInstallation={profile.as_uri()}", "--headless",
             "--invisible", "--nologo", "--norestore", "--nodefault", "--nolockcheck",
             f"--accept=pipe,name={pipe};urp;StarOffice.ComponentContext"],
            stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
            start_new_session=True)
    result = {"soffice_pid": proc.pid, "profile": str(profile)}
    try:
        desktop = connect(proc, pipe, log)
        result["startup_ms"] = round((time.monotonic() - t0) * 1000)
        result["files"] = [fill_one(desktop, tmpl, out.removesuffix(":bad"), reports,
                                    out.endswith(":bad"))
                           for tmpl, out in jobs]
        t1 = time.monotonic()
        try:
            desktop.terminate()
        except Exception:  # the bridge goes down with the office: expected
            pass
        try:
            proc.wait(timeout=EXIT_S)
            result["exit_ms"] = round((time.monotonic() - t1) * 1000)
        except subprocess.TimeoutExpired:
            result["exit_ms"] = None  # killed below
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # soffice.bin and oosplash, whatever is left
        except ProcessLookupError:
            pass
        proc.wait()
    result["total_ms"] = round((time.monotonic() - t0) * 1000)
    return result


def on_term(signum, frame):
    raise SystemExit(128 + signum)  # runs fill's finally: soffice is killed


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_term)
    if len(sys.argv) == 2 and sys.argv[1] == "check":
        sys.exit(check())
    if len(sys.argv) >= 6 and sys.argv[1] == "fill" and len(sys.argv) % 2 == 0:
        pairs = list(zip(sys.argv[4::2], sys.argv[5::2]))
        print(json.dumps(fill(sys.argv[2], sys.argv[3], pairs), ensure_ascii=False))
        sys.exit(0)
    sys.exit(__doc__)
