#!/usr/bin/env python3
"""Writes the sample batches and rule fixtures in testdata/. Deterministic (fixed seed).

The files are committed; tests read them and never run this script. Re-run it after changing a
fixture here:  pip install openpyxl && python3 testdata/make_testdata.py
"""
import csv, os, random, shutil, uuid
from openpyxl import Workbook
from openpyxl.comments import Comment

HERE = os.path.dirname(os.path.abspath(__file__))
rnd = random.Random(20261124)

FIRST = ["Jane", "Omar", "Li", "Priya", "Lukas", "Sofia", "Mateo", "Aiko", "Chen", "Fatima", "Noah", "Emma",
         "Kwame", "Ines", "Mary Kate", "Anne-Marie", "José", "Björn", "Zoë", "Ravi"]
LAST = ["Doe", "Haddad", "Wei", "Sharma", "Becker", "Rossi", "Garcia", "Tanaka", "Zhang", "Khan", "Smith",
        "Martin", "Mensah", "Silva", "O'Neil", "van der Berg", "Müller", "Larsen", "Dubois", "Iyer"]
PLACES = [("DE", "Europe/Berlin", "EMEA", "Berlin", "BE"), ("US", "America/New_York", "NA-East", "New York", "NY"),
          ("GB", "Europe/London", "EMEA", "London", ""), ("IN", "Asia/Kolkata", "APAC", "Bengaluru", "KA"),
          ("JP", "Asia/Tokyo", "APAC", "Tokyo", ""), ("BR", "America/Sao_Paulo", "LATAM", "São Paulo", "SP")]
ROLES = [("Contract Engineer", "Engineering"), ("IT Support Contractor", "Global IT"),
         ("Data Analyst", "Finance"), ("Service Desk Agent", "Global IT"), ("Consultant", "Operations")]
TAGS = ["HAS_ACCESS_TO_BOT", "HAS_ACCESS_TO_BOT;TESTER", "HAS_ACCESS_TO_BOT;KNOWLEDGE_WORKER", "BASIC_USER"]


def ascii_fold(s):
    import unicodedata
    return "".join(c for c in unicodedata.normalize("NFD", s) if not unicodedata.combining(c))


def hexid(n):
    return "".join(rnd.choice("0123456789abcdef") for _ in range(n))


def alnum(n, chars="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"):
    return "".join(rnd.choice(chars) for _ in range(n))


def guid():
    return str(uuid.UUID(int=rnd.getrandbits(128)))


USER_HEADER = ["email_addr", "record_id", "full_name", "first_name", "last_name", "role", "department",
               "manager_email", "employee_id", "cost_center_id", "cost_center_name", "work_status",
               "country_code", "timezone", "region", "city", "state", "user_tags", "email_aliases",
               "custom.office", "custom.vendor"]


def clean_users(n):
    users = []
    for i in range(n):
        first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
        local = ascii_fold(f"{first}.{last}").lower().replace(" ", "").replace("'", "")
        email = f"{local}.{1001 + i}@partners.acme.com"
        role, dept = ROLES[i % len(ROLES)]
        country, tz, region, city, state = PLACES[i % len(PLACES)]
        manager = "" if i < 5 else users[i % 5]["email_addr"]
        users.append(dict(zip(USER_HEADER, [
            email, f"CTR-{1001 + i}", f"{first} {last}", first, last, role, dept, manager,
            f"{700000 + i * 13}", f"CC-{100 + i % 9}", f"{dept} Contractors", "CONTINGENT", country, tz,
            region, city, state, TAGS[i % len(TAGS)], f"{local}.{1001 + i}@vendor-{i % 3}.example.com" if i % 4 == 0 else "",
            f"Building {i % 6 + 1}", ["Northwind Staffing", "Contoso Talent", "Fabrikam Partners"][i % 3]])))
    return users


def id_rows(users):
    itsm, channel, idm = [], [], []
    for i, u in enumerate(users):
        rid, email = u["record_id"], u["email_addr"]
        itsm.append([rid, "servicenow", hexid(32), email.split("@")[0][:40]])
        if i % 2 == 0:
            itsm.append([rid, "jira_service_desk", f"712020:{guid()}", email])
        if i % 5 == 0:
            itsm.append([rid, "freshservice", str(19000000000 + i), email])
        channel.append([rid, "slack", "U0" + alnum(9)])
        if i % 3 == 0:
            channel.append([rid, "msteams", guid()])
        idm.append([rid, "okta", "00u" + alnum(17, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"), email])
    return itsm, channel, idm


BOT = {"email_addr": "moveworks.bot@acme.com", "record_id": "BOT-0001", "full_name": "Moveworks Bot",
       "user_tags": "SERVICE_ACCOUNT"}


def write_sheet(ws, header, rows, text_cols=()):
    ws.append(header)
    for r in rows:
        ws.append(r)
    for col in text_cols:
        for cell in ws[col]:
            cell.number_format = "@"


def clean_workbook(path, n=120):
    users = clean_users(n)
    itsm, channel, idm = id_rows(users)
    itsm += [["BOT-0001", "servicenow", hexid(32), "moveworks.bot"],
             ["BOT-0001", "jira_service_desk", f"712020:{guid()}", "moveworks.bot@acme.com"]]
    wb = Workbook()
    ws = wb.active
    ws.title = "Instructions"
    ws.append(["Q3 contractor onboarding batch from Northwind Staffing. One row per contractor on Users;"])
    ws.append(["one row per system identity on the ID sheets."])
    write_sheet(wb.create_sheet("Users"), USER_HEADER, [[u[h] for h in USER_HEADER] for u in users], text_cols=("I",))
    write_sheet(wb.create_sheet("ITSM IDs"), ["record_id", "integration", "user_id", "external_id"], itsm, ("C",))
    write_sheet(wb.create_sheet("Channel IDs"), ["record_id", "integration", "user_id"], channel, ("C",))
    write_sheet(wb.create_sheet("IDM IDs"), ["record_id", "integration", "user_id", "external_id"], idm, ("C",))
    bot_header = ["email_addr", "record_id", "full_name", "user_tags"]
    write_sheet(wb.create_sheet("Bot Account"), bot_header, [[BOT[h] for h in bot_header]])
    wb.save(path)


def write_csv(path, header, rows, delimiter=",", encoding="utf-8", newline="\n"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding=encoding, newline="") as f:
        w = csv.writer(f, delimiter=delimiter, lineterminator=newline)
        w.writerow(header)
        w.writerows(rows)


def flat_inline(path):
    """A vendor's flat CSV with inline ID columns and a handful of real mistakes."""
    users = clean_users(40)
    header = ["Email Address", "Unique Record ID", "Full Name", "First Name", "Last Name", "Work Status",
              "Country", "Time Zone", "Manager Email", "User Tags", "itsm.servicenow.user_id",
              "itsm.servicenow.external_id", "channel.slack.user_id", "idm.okta.user_id", "idm.okta.external_id",
              "Office"]
    rows = []
    for i, u in enumerate(users):
        rows.append([u["email_addr"], u["record_id"], u["full_name"], u["first_name"], u["last_name"],
                     ["Contractor", "contingent", "CONTINGENT", "Consultant"][i % 4], u["country_code"],
                     u["timezone"], u["manager_email"], u["user_tags"], hexid(32), u["email_addr"].split("@")[0][:40],
                     "U0" + alnum(9), "00u" + alnum(17), u["email_addr"], u["custom.office"]])
    rows[3][0] = "omar.haddad@@partners.acme.com"          # V002
    rows[7][5] = "PART_TIME"                               # V003
    rows[11][7] = "America/New York"                       # V005
    rows[12][6] = "UK"                                     # V006
    rows[15][1] = rows[14][1]                              # D001 twice
    rows[20][10] = rows[20][10][:31]                       # I002
    rows[22][12] = "u0abc12345"                            # I004
    rows[25][8] = "no.such.manager@partners.acme.com"      # R001
    rows[30][9] = "HAS_ACESS_TO_BOT"                       # V004
    write_csv(path, header, rows)


def excel_windows_dir(path):
    """A CSV set as Excel on Windows saves it: Windows-1252, semicolons, CRLF."""
    users = clean_users(12)
    header = ["email_addr", "record_id", "full_name", "first_name", "last_name", "city", "country_code", "timezone"]
    rows = [[u[h] for h in header] for u in users]
    write_csv(os.path.join(path, "users.csv"), header, rows, ";", "cp1252", "\r\n")
    itsm, channel, _ = id_rows(users)
    write_csv(os.path.join(path, "itsm_ids.csv"), ["record_id", "integration", "user_id", "external_id"], itsm, ";", "cp1252", "\r\n")
    write_csv(os.path.join(path, "channel_ids.csv"), ["record_id", "integration", "user_id"], channel, ";", "cp1252", "\r\n")


def semicolons_with_commas(path):
    """A `;` file whose cells hold more commas than the header has columns: the header row
    decides the delimiter (SPEC §2), not the widest line."""
    users = clean_users(3)
    header = ["email_addr", "record_id", "full_name", "custom.office"]
    offices = ["Acme GmbH, Haus 2, 3. OG, Raum 4, Tisch 5, Platz 6", "Berlin, Mitte", "Remote"]
    rows = [[u["email_addr"], u["record_id"], u["full_name"], o] for u, o in zip(users, offices)]
    write_csv(path, header, rows, ";")


def code_pages(d):
    """CSV files as Excel saves "CSV" on computers whose code page is not Windows-1252: a
    Russian vendor's (Windows-1251, `;`, CRLF), a Japanese one's (Shift_JIS), and Excel for
    Mac's (Mac Roman)."""
    header = ["email_addr", "record_id", "full_name", "first_name", "last_name", "department"]
    ru = [("Иван", "Петров", "Продажи"), ("Пётр", "Сидоров", "Бухгалтерия"),
          ("Анна", "Смирнова", "Разработка"), ("Ольга", "Ёлкина", "Кадры")]
    jp = [("太郎", "山田", "営業部"), ("花子", "佐藤", "経理部"), ("ソフィア", "伊藤", "開発"),
          ("表示", "能力", "ポリシー")]
    fr = [("José", "García", "Ventes"), ("Zoë", "Lefèvre", "Comptabilité")]

    def rows(names, prefix):
        return [[f"{prefix}{i}@partners.acme.com", f"{prefix.upper()}-{i}", f"{f} {l}", f, l, d]
                for i, (f, l, d) in enumerate(names, 1)]
    write_csv(os.path.join(d, "windows-1251.csv"), header, rows(ru, "ru"), ";", "cp1251", "\r\n")
    write_csv(os.path.join(d, "shift-jis.csv"), header, rows(jp, "jp"), ",", "shift_jis", "\r\n")
    write_csv(os.path.join(d, "mac-roman.csv"), header, rows(fr, "fr"), ",", "mac_roman", "\r")


# Rule fixtures: each row's `expect` cell lists the codes that must fire on that row; a rule's
# fixture also holds near misses (rows where the code must not fire).
U = ["email_addr", "record_id", "full_name"]


# V014: keys that look like ASCII ones but are not (locale review): an input method's
# full-width forms, an autocorrected or non-breaking dash, a Cyrillic letter among Latin ones.
# Names, and keys of another script throughout, pass.
V014_ROWS = [["a@acme.com", "CTR-1003", "Al Bo", "", ""],
             ["b@acme.com", "\uff23\uff34\uff32-\uff11\uff10\uff10\uff13", "Bo Al", "", "V014"],
             ["c@acme.com", "CTR\u20131004", "Cy Ng", "", "V014"], ["d@acme.com", "CTR\u20112005", "Di Lu", "", "V014"],
             ["e@acme.com", "\u0421TR-1", "Ed Lu", "", "V014"], ["f@acme.com", "R6", "Fa Lu", "\uff11\uff12\uff13", "V014"],
             ["g@acme.com", "\u0416\u0430\u043d\u043d\u0430-7", "\uff2a\uff41\uff4e\uff45 \u2013 Doe", "\u6771\u4eac-8", ""],
             ["h@acme.com", "R8", "H\u00e9l\u00e8ne Lu", "\u0391\u0392\u0393-8", ""]]


# V015: a `?` a save wrote for a character its code page lacks (Windows review), in names and
# addresses, and between two letters of other text; a question in free text passes.
V015_ROWS = [["a@acme.com", "R1", "Al Bo", "", "", ""],
             ["?ukasz@acme.com", "R2", "?ukasz Nowak", "", "", "V015"],
             ["c@acme.com", "R3", "Zo? Garcia", "", "", "V015"],
             ["d@acme.com", "R4", "Di Lu", "M?nchen", "", "V015"],
             ["e@acme.com", "R5", "Ed Lu", "", "Remote?", ""],
             ["f@acme.com", "R6", "Fa Lu", "Berlin", "IT (?)", ""]]


def rule_csv(code, extra, rows, name=None):
    write_csv(os.path.join(HERE, "rules", f"{name or code}.csv"), U + extra + ["expect"], rows)


def rule_dir(code, files, name=None, config=None):
    d = os.path.join(HERE, "rules", name or code)
    for fname, (header, rows) in files.items():
        write_csv(os.path.join(d, fname), header, rows)
    if config:
        with open(os.path.join(d, "muster.toml"), "w") as f:
            f.write(config)


def rule_fixtures():
    shutil.rmtree(os.path.join(HERE, "rules"), ignore_errors=True)
    rule_csv("V001", [], [["a@acme.com", "R1", "", "V001"], ["", "R2", "Bo Li", "V001"], ["c@acme.com", "R3", "Cy Ng", ""],
                          # A name of invisible characters only is as empty (review).
                          ["d@acme.com", "R4", "\u200b", "V001"], ["e@acme.com", "R5", "\u3164", "V001"]])
    rule_csv("V002", ["email_aliases", "manager_email"], [
        ["jane@@acme.com", "R1", "Jane Doe", "", "", "V002"], ["jane@localhost", "R2", "Jane Doe", "", "", "V002"],
        ["jürgen@acme.com", "R3", "Jürgen Ott", "", "", "V002"], ["ok@acme.com", "R4", "Ok Yu", "bad alias@acme.com", "", "V002"],
        ["ok2@acme.com", "R5", "Ok Yu", "", "boss@exa_mple.com", "V002"], ["Mixed.Case@Acme.COM", "R6", "Mi Xu", "", "", ""],
        ["jane@münchen.de", "R7", "Jane Roe", "j.roe@acme.com", "ok@acme.com", ""],
        # Full-width or ideographic dots, full-width letters: IDNA reads them as others (review).
        ["bob@acme\uff0ecom", "R8", "Bob Xu", "", "", "V002"], ["ok3@acme.com", "R9", "Ok Yu", "", "carol@acme\u3002com", "V002"],
        ["\uff4a\uff41\uff4e\uff45@acme.com", "R10", "Ja Ne", "", "", "V002"], ["ok4@xn--mnchen-3ya.de", "R11", "Ok Yu", "", "", ""]])
    rule_csv("V003", ["work_status"], [["a@acme.com", "R1", "Al Bo", "PART_TIME", "V003"], ["b@acme.com", "R2", "Bo Al", "Contractor", ""],
                                       ["c@acme.com", "R3", "Cy Ng", "FULL_TIME", ""], ["d@acme.com", "R4", "Di Lu", "TBD", "V003"]])
    rule_csv("V004", ["user_tags"], [["a@acme.com", "R1", "Al Bo", "HAS_ACESS_TO_BOT", "V004"], ["b@acme.com", "R2", "Bo Al", "vip;TESTER", ""],
                                     ["c@acme.com", "R3", "Cy Ng", "VIP, ROCKSTAR", "V004"]])
    rule_csv("V005", ["timezone"], [["a@acme.com", "R1", "Al Bo", "America/New York", "V005"], ["b@acme.com", "R2", "Bo Al", "america/new_york", ""],
                                    ["c@acme.com", "R3", "Cy Ng", "Eastern Standard Time", "V005"], ["d@acme.com", "R4", "Di Lu", "Asia/Calcutta", ""]])
    rule_csv("V006", ["country_code"], [["a@acme.com", "R1", "Al Bo", "UK", "V006"], ["b@acme.com", "R2", "Bo Al", "Germany", ""],
                                        ["c@acme.com", "R3", "Cy Ng", "XK", "V006"], ["d@acme.com", "R4", "Di Lu", "de", ""]])
    rule_csv("V007", ["custom.phone"], [["a@acme.com", "R1", "=1+1", "", "V007"], ["b@acme.com", "R2", "Bo Al", "+1 555 0100", ""],
                                        ["c@acme.com", "R3", "Cy Ng", "@SUM(A1)", "V007"], ["d@acme.com", "R4", "Di Lu", "-5", ""],
                                        ["e@acme.com", "R5", "Ed Yo", "-1+A1", "V007"], ["f@acme.com", "R6", "Fa Ro", "+1 (555) 010-0100", ""],
                                        # A failed formula's error value, as a save to CSV leaves it (review).
                                        ["g@acme.com", "R7", "Gu Ro", "#N/A", "V007"], ["h@acme.com", "R8", "Ha Ro", "Err:502", "V007"],
                                        ["i@acme.com", "R9", "Iv Ro", "#1 desk", ""],
                                        # What a spreadsheet shows for a value too wide for its column (review).
                                        ["j@acme.com", "R10", "Jo Ro", "########", "V007"], ["k@acme.com", "R11", "Ka Ro", "#", ""]])
    rule_csv("V008", ["user_tags"], [["a@acme.com", "R\t1", "Al Bo", "", "V008"], ["b@acme.com", "R2", "Bo Al", "VIP\nTESTER", ""],
                                     ["c@acme.com", "R3", "Cy\x07Ng", "", "V008"],
                                     # An invisible format character in a key; in a name it may be right.
                                     ["d@acme.com", "R\u200b4", "Di Lu", "", "V008"], ["e\ufeff@acme.com", "R5", "Ed Lu", "", "V008"],
                                     ["f@acme.com", "R6", "Fa\u200cLu", "", ""], ["g@acme.com", "R7", "Jos\ufffd Lu", "", "V008"],
                                     # A no-break space inside a key looks like a typed one (review).
                                     ["h@acme.com", "R\u00a08", "Hu Lu", "", "V008"], ["i@acme.com", "R 9", "Iv\u00a0Lu", "", ""],
                                     # A bidi override shows a name reversed; the marks and isolates of
                                     # right-to-left text are right (review).
                                     ["j@acme.com", "R10", "Jo \u202eeoD", "", "V008"],
                                     ["k@acme.com", "R11", "\u0644\u064a\u0644\u0649 \u200f\u2067Haddad\u2069", "", ""],
                                     # A line break before or after a value is whitespace, trimmed (review).
                                     ["l@acme.com", "R12", "Lu Ro\n", "", ""], ["m@acme.com", "R13", "Mo\nRo", "", "V008"]])
    rule_csv("V009", ["employee_id"], [["a@acme.com", "1.23457E+11", "Al Bo", "", "V009"], ["b@acme.com", "R2", "Bo Al", "2026-03-01", "V009"],
                                       ["c@acme.com", "R3", "Cy Ng", "00123", ""], ["d@acme.com", "R4", "Di Lu", "CC-2026-03", ""]])
    rule_csv("V010", ["first_name", "last_name"], [["a@acme.com", "R1", "Jane Doe", "John", "Doe", "V010"],
        ["b@acme.com", "R2", "Mary Kate O'Neil", "Mary Kate", "O'Neil", ""], ["c@acme.com", "R3", "Jan van der Berg", "Jan", "van der Berg", ""],
        ["d@acme.com", "R4", "Anne-Marie Dupont", "Anne", "Dupont", ""], ["e@acme.com", "R5", "Jose Alvarez", "José", "Álvarez", ""],
        # `ß` is `ss`, full-width letters are plain ones (review).
        ["f@acme.com", "R6", "Jane Straße", "Jane", "STRASSE", ""], ["g@acme.com", "R7", "\uff2a\uff41\uff4e\uff45 Doe", "Jane", "Doe", ""],
        # Chinese, Korean and Japanese names are written without a space between their parts.
        ["h@acme.com", "R8", "\u738b\u5c0f\u660e", "\u5c0f\u660e", "\u738b", ""], ["i@acme.com", "R9", "\uae40\ubbfc\uc900", "\ubbfc\uc900", "\uae40", ""],
        ["j@acme.com", "R10", "\u30b8\u30e7\u30f3\u30fb\u30b9\u30df\u30b9", "\u30b8\u30e7\u30f3", "\u30b9\u30df\u30b9", ""]])
    rule_csv("V014", ["employee_id"], V014_ROWS)
    rule_csv("V015", ["city", "custom.note"], V015_ROWS)
    # V012: a row split by a comma not in quotes, written as text (a CSV writer would quote it).
    with open(os.path.join(HERE, "rules", "V012.csv"), "w", encoding="utf-8", newline="") as f:
        f.write("expect,email_addr,record_id,full_name,department\n"
                "V012,a@acme.com,R1,\u201cLee, Ann\u201d,IT\n"
                ',b@acme.com,R2,"Bo, Al",IT\n'
                ",c@acme.com,R3,Cy Do,IT,,\n"
                "V012,d@acme.com,R4,Dee Fu,IT,Sales\n"
                # A note beside the table, nothing under the header: F004, and no user.
                ",,,,,,note beside the table\n")
    rule_csv("D001", [], [["a@acme.com", "CTR-1", "Al Bo", "D001"], ["b@acme.com", "CTR-1", "Bo Al", "D001"], ["c@acme.com", "ctr-1", "Cy Ng", ""]])
    rule_csv("D002", ["email_aliases"], [["a@acme.com", "R1", "Al Bo", "", "D002"], ["A@acme.com", "R2", "Bo Al", "", "D002"],
                                         ["c@acme.com", "R3", "Cy Ng", "x@acme.com", "D002"], ["x@acme.com", "R4", "Di Lu", "", "D002"],
                                         ["e@acme.com", "R5", "Ed Yo", "e@acme.com", ""]])
    users3 = (U + ["expect"], [["a@acme.com", "R1", "Al Bo", ""], ["b@acme.com", "R2", "Bo Al", ""], ["c@acme.com", "R3", "Cy Ng", ""]])
    IH = ["record_id", "integration", "user_id", "external_id", "expect"]
    sn = lambda: hexid(32)
    rule_dir("D003", {"users.csv": users3, "itsm_ids.csv": (IH, [
        ["R1", "servicenow", sn(), "a", "D003"], ["R1", "servicenow", sn(), "a2", "D003"],
        ["R2", "servicenow", sn(), "b", ""], ["R2", "jira_service_desk", "5b10ac8d82e05b22cc7d4ef5", "b@acme.com", ""]])})
    shared = sn()
    rule_dir("D004", {"users.csv": users3, "itsm_ids.csv": (IH, [
        ["R1", "servicenow", shared, "a", "D004"], ["R2", "servicenow", shared.upper(), "b", "D004"], ["R3", "servicenow", sn(), "c", ""]])})
    rule_dir("D005", {"users.csv": users3, "itsm_ids.csv": (IH, [["R9", "servicenow", sn(), "z", "D005"], ["R1", "servicenow", sn(), "a", ""]])})
    rule_dir("I001", {"users.csv": users3, "itsm_ids.csv": (IH, [
        ["R1", "ServiceNow", sn(), "a", "I001"], ["R2", "servicenw", sn(), "b", "I001"], ["R3", "servicenow", sn(), "c", ""]])})
    rule_dir("I002", {"users.csv": users3, "itsm_ids.csv": (IH, [
        ["R1", "servicenow", sn()[:31], "a", "I002"], ["R2", "freshservice", "0042", "b@acme.com", "I002"],
        ["R3", "servicenow", sn(), "c", ""], ["R3", "salesforce", "00558000001N0Ke", "c@acme.com", ""]])})
    rule_dir("I003", {"users.csv": users3, "itsm_ids.csv": (IH, [
        ["R1", "jira_service_desk", "5b10ac8d82e05b22cc7d4ef5", "al.bo", "I003"], ["R2", "servicenow", sn(), "", "I003"],
        ["R3", "jira_service_desk", "5b10ac8d82e05b22cc7d4ef6", "c@acme.com", ""]])})
    CH = ["record_id", "integration", "user_id", "expect"]
    rule_dir("I004", {"users.csv": users3, "channel_ids.csv": (CH, [
        ["R1", "slack", "u0abc12345", "I004"], ["R2", "slack", "C0ABC12345", "I004"], ["R3", "slack", "U0ABC12345", ""],
        ["R3", "msteams", "7faf8ab2-3d56-4244-b585-20c8a42ed2b8", ""]])})
    rule_dir("I005", {"users.csv": users3, "idm_ids.csv": (IH, [
        ["R1", "azure_ad", "not-a-guid", "a@acme.com", "I005"], ["R2", "okta", "00ub0oNGTSWT", "b@acme.com", "I005"],
        ["R3", "azure_ad", "{7FAF8AB2-3D56-4244-B585-20C8A42ED2B8}", "c@acme.com", ""]])})
    rule_dir("I006", {"users.csv": users3, "itsm_ids.csv": (IH, [["R1", "slack", "U0ABC12345", "", "I006"], ["R2", "servicenow", sn(), "b", ""]])})
    rule_dir("I007", {"users.csv": users3, "channel_ids.csv": (CH, [["R1", "slack", "U123", "I007"], ["R2", "slack", "U0ABC12345", ""],
                                                                    ["R3", "msteams", "29:1abcDEF_x", "I007"]])})
    rule_csv("R001", ["email_aliases", "manager_email"], [["a@acme.com", "R1", "Al Bo", "al@acme.com", "nobody@acme.com", "R001"],
        ["b@acme.com", "R2", "Bo Al", "", "a@acme.com", ""], ["c@acme.com", "R3", "Cy Ng", "", "AL@acme.com", ""],
        ["d@acme.com", "R4", "Di Lu", "", "bad@@acme.com", ""]])
    rule_csv("R002", ["manager_email"], [["a@acme.com", "R1", "Al Bo", "b@acme.com", "R002"], ["b@acme.com", "R2", "Bo Al", "a@acme.com", "R002"],
        ["c@acme.com", "R3", "Cy Ng", "a@acme.com", ""], ["d@acme.com", "R4", "Di Lu", "d@acme.com", "R002"]])
    bot = (U + ["expect"], [["bot@acme.com", "BOT-1", "Moveworks Bot", "B001"], ["bot2@acme.com", "BOT-2", "Moveworks Bot 2", "B001"]])
    rule_dir("B001", {"users.csv": users3, "bot_account.csv": bot})
    cfg = '[connectors.servicenow]\nsystem = "servicenow"\nkind = "itsm"\n\n[connectors.jira_service_desk]\nsystem = "jira"\nkind = "itsm"\n\n[connectors.slack]\nsystem = "slack"\nkind = "chat"\n'
    rule_dir("B002", {"users.csv": users3, "bot_account.csv": (U + ["expect"], [["bot@acme.com", "BOT-1", "Moveworks Bot", "B002"]]),
                      "itsm_ids.csv": (IH, [["BOT-1", "servicenow", sn(), "moveworks.bot", ""]])}, config=cfg)
    rule_dir("B002", {"users.csv": users3, "bot_account.csv": (U + ["expect"], [["bot@acme.com", "BOT-1", "Moveworks Bot", ""]]),
                      "itsm_ids.csv": (IH, [["BOT-1", "servicenow", sn(), "moveworks.bot", ""],
                                            ["BOT-1", "jira_service_desk", "5b10ac8d82e05b22cc7d4ef5", "bot@acme.com", ""]])},
             name="B002-ok", config=cfg)
    # Normalizations.
    rule_csv("N001", ["first_name"], [[" a@acme.com ", "R1", "Al Bo", "", "N001"], ["b@acme.com", "R2", "Bo Al", "", ""],
                                      # Invisible characters only: empty, not V010 (review).
                                      ["c@acme.com", "R3", "Cy Al", "\u200b", "N001"], ["d@acme.com", "R4", "Di Al", "Di", ""]])
    rule_csv("N002", ["email_aliases"], [["A@Acme.com", "R1", "Al Bo", "", "N002"], ["b@acme.com", "R2", "Bo Al", "", ""],
                                         # An alias given twice, or the address itself (review).
                                         ["c@acme.com", "R3", "Cy Al", "c@acme.com;z@acme.com", "N002"],
                                         ["d@acme.com", "R4", "Di Al", "y@acme.com,y@acme.com", "N002"],
                                         ["e@acme.com", "R5", "Ed Al", "x@acme.com", ""],
                                         # The same alias in Unicode and in punycode (review).
                                         ["f@acme.com", "R6", "Fe Al", "f2@m\u00fcnchen.de;f2@xn--mnchen-3ya.de", "N002"]])
    rule_csv("N003", ["user_tags"], [["a@acme.com", "R1", "Al Bo", "vip;VIP", "N003"], ["b@acme.com", "R2", "Bo Al", "VIP;TESTER", ""]])
    rule_csv("N004", ["work_status"], [["a@acme.com", "R1", "Al Bo", "Contractor", "N004"], ["b@acme.com", "R2", "Bo Al", "CONTINGENT", ""]])
    rule_csv("N005", ["country_code"], [["a@acme.com", "R1", "Al Bo", "Germany", "N005"], ["b@acme.com", "R2", "Bo Al", "DE", ""]])
    rule_csv("N006", ["itsm.salesforce.user_id", "itsm.salesforce.external_id"], [
        ["a@acme.com", "R1", "Al Bo", "00558000001N0Ke", "a@acme.com", "N006"], ["b@acme.com", "R2", "Bo Al", "00558000001N0KeAAK", "b@acme.com", ""]])
    rule_csv("N007", ["timezone"], [["a@acme.com", "R1", "Al Bo", "america/new_york", "N007"], ["b@acme.com", "R2", "Bo Al", "America/New_York", ""]])
    rule_csv("N008", ["idm.azure_ad.user_id", "idm.azure_ad.external_id", "itsm.servicenow.user_id", "itsm.servicenow.external_id"], [
        ["a@acme.com", "R1", "Al Bo", "{7FAF8AB2-3D56-4244-B585-20C8A42ED2B8}", "a@acme.com", "", "", "N008"],
        ["b@acme.com", "R2", "Bo Al", "8faf8ab2-3d56-4244-b585-20c8a42ed2b8", "b@acme.com", "", "", ""],
        ["c@acme.com", "R3", "Cy Do", "", "", "{9d385017c0a8000401d4d9e4b8bd5e3c}", "c@acme.com", "N008"],
        ["d@acme.com", "R4", "Do Cy", "", "", "9d385017c0a8000401d4d9e4b8bd5e3d", "d@acme.com", ""]])
    mangled_fixture()


def mangled_fixture():
    """Spreadsheet mangling needs a real workbook: numeric, padded, date and formula cells."""
    import datetime
    wb = Workbook()
    ws = wb.active
    ws.title = "Users"
    ws.append(U + ["employee_id", "cost_center_id", "expect"])
    ws.append(["a@acme.com", "R1", "Al Bo", 123, "CC-1", "N009"])
    ws["D2"].number_format = "000000"
    ws.append(["b@acme.com", "R2", "Bo Al", 123456789012345678, "CC-2", "V009"])
    ws.append(["c@acme.com", "R3", "Cy Ng", datetime.datetime(2026, 3, 1), "CC-3", "V009"])
    ws.append(["d@acme.com", "R4", "=\"Di \"&\"Lu\"", 4567, "CC-4", "V007"])
    ws.append(["e@acme.com", "R5", "Ed Yo", 98765, "CC-5", ""])
    # An error cell with no formula: what "paste values" keeps of a failed lookup (review).
    ws.append(["f@acme.com", "R6", "Fa Ro", "#N/A", "CC-6", "V007"])
    assert ws["D7"].data_type == "e"
    # A number shown in scientific notation: what LibreOffice makes of `1,23457E+11` read from
    # a CSV (a German locale's decimal comma); the digits are the ones the text kept.
    ws.append(["g@acme.com", "R7", "Gu Ma", 123457000000, "CC-7", "V009"])
    ws["D8"].number_format = "0.00E+00"
    # Three decimals: a format LibreOffice's ODS keeps in styles.xml, not content.xml.
    ws.append(["h@acme.com", "R8", "Hu Lo", 98765400000, "CC-8", "V009"])
    ws["D9"].number_format = "0.000E+00"
    wb.save(os.path.join(HERE, "rules", "V009-N009-V007.xlsx"))


def merged_fixture():
    """N010: cells merged over rows read as the sheet shows them. Written by openpyxl; the .ods
    and .xls beside it are LibreOffice's conversions of it (see testdata/README.md)."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Users"
    ws.append(["Q4 contractors from Northwind"])
    ws.merge_cells("A1:F1")  # a title across the columns, above the header: nothing filled
    ws.append(U + ["department", "location", "expect"])
    rows = [
        ["a@acme.com", "R1", "Al Bo", "Engineering", None, ""],  # D3:D5; E3:E4 with an empty top
        ["b@acme.com", "R2", "Bo Al", None, None, "N010"],
        ["c@acme.com", "R3", "Cy Do", None, "Bergen", "N010"],
        ["d@acme.com", "R4", "Dee Fu", "Sales", None, ""],  # D6:E8, over a blank row
        [None, None, None, None, None, None],
        ["e@acme.com", "R5", "Ed Yo", None, None, "N010"],  # D8 filled; E8 stays empty
        ["f@acme.com", "R6", "Fa Ro", "Finance", None, ""],  # D9:E9 across only: nothing filled
        ["g@acme.com", "R7", "Gi Ha", "Own value", "Oslo", ""],
    ]
    for r in rows:
        ws.append(r)
    for rng in ["D3:D5", "E3:E4", "D6:E8", "D9:E9"]:
        ws.merge_cells(rng)
    ws = wb.create_sheet("ITSM IDs")
    ws.append(["record_id", "integration", "user_id", "expect"])
    ws.append(["R1", "servicenow", hexid(32), ""])
    ws.append(["R2", None, hexid(32), "N010"])
    ws.append(["R3", "jira_service_desk", f"712020:{guid()}", ""])
    ws.merge_cells("B2:B3")
    wb.save(os.path.join(HERE, "rules", "N010.xlsx"))


def merged_hidden_fixture():
    """V011: cells under cells merged over rows that hold another value than the sheet shows:
    a key merged over rows (read empty below), and values of their own hidden by the merge.
    openpyxl's `merge_cells` empties the cells under the top, as Excel does: the ranges are
    added as they are, which keeps the hidden values, as LibreOffice can. The .ods beside it
    is LibreOffice's conversion of it (see testdata/README.md)."""
    from openpyxl.worksheet.cell_range import CellRange
    wb = Workbook()
    ws = wb.active
    ws.title = "Users"
    ws.append(U + ["employee_id", "department", "expect"])
    rows = [
        ["a@acme.com", "R1", "Al Bo", "E-1", "Engineering", ""],  # D2:D3, E2:E3
        ["b@acme.com", "R2", "Bo Al", None, None, "V011"],  # D3: a key, read empty
        ["c@acme.com", "R3", "Cy Do", "E-3", "Sales", ""],  # E4:E6
        ["d@acme.com", "R4", "Dee Fu", "E-4", "Finance", "V011"],  # E5: hidden `Finance`
        ["e@acme.com", "R5", "Ed Yo", "E-5", "Sales", ""],  # E6: the top's own value
        ["f@acme.com", "R6", "Fa Ro", "E-6", None, ""],
        ["g@acme.com", "R7", "Gi Ha", "E-7", None, ""],  # A8:A9
        ["h@acme.com", "R8", "Ho Ki", "E-8", None, "V011"],  # A9: a hidden address
    ]
    for r in rows:
        ws.append(r)
    for rng in ["D2:D3", "E2:E3", "E4:E6", "A8:A9"]:
        ws.merged_cells.add(CellRange(rng))
    ws = wb.create_sheet("ITSM IDs")
    ws.append(["record_id", "integration", "user_id", "expect"])
    ws.append(["R1", "servicenow", hexid(32), ""])
    ws.append(["R2", "servicenow", None, "V011"])  # C2:C3: an identity, read empty
    ws.merged_cells.add(CellRange("C2:C3"))
    wb.save(os.path.join(HERE, "rules", "V011.xlsx"))


def hidden_fixture():
    """V013: rows and a column the sheet hides (by hand, and by a filter) are read: each is
    said. Written by openpyxl; the .ods beside it is LibreOffice's conversion of it."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Users"
    ws.append(U + ["department", "old_id", "expect"])
    rows = [
        ["a@acme.com", "R1", "Al Bo", "Engineering", "X-1", "V013 (column E)"],
        ["b@acme.com", "R2", "Bo Al", "Sales", "X-2", "V013 (row 3)"],
        ["c@acme.com", "R3", "Cy Do", "Sales", None, ""],
        [None, None, None, None, None, ""],
        ["d@acme.com", "R4", "Dee Fu", "Finance", None, "V013 (row 6)"],
        ["e@acme.com", "R5", "Ed Yo", "Finance", None, ""],
    ]
    for r in rows:
        ws.append(r)
    ws.auto_filter.ref = "A1:F7"
    for n in (3, 5, 6):  # row 5 is blank: hidden, but nothing is read from it
        ws.row_dimensions[n].hidden = True
    ws.column_dimensions["E"].hidden = True
    ws = wb.create_sheet("ITSM IDs")
    ws.append(["record_id", "integration", "user_id", "external_id", "expect"])
    ws.append(["R1", "servicenow", hexid(32), "a@acme.com", ""])
    ws.append(["R3", "servicenow", hexid(32), "c@acme.com", "V013 (row 3)"])
    ws.row_dimensions[3].hidden = True
    ws = wb.create_sheet("Channel IDs")  # the whole sheet hidden: said at its first row
    ws.append(["record_id", "integration", "user_id", "expect"])
    ws.append(["R2", "slack", "U0G9QF9C6", "V013 (sheet hidden)"])
    ws.append(["R4", "slack", "U0G9QF9C7", ""])
    ws.sheet_state = "hidden"
    wb.save(os.path.join(HERE, "rules", "V013.xlsx"))


def times_fixture():
    """Times of day and durations as a spreadsheet shows them, read alike from the .xlsx and
    from LibreOffice's .ods of it: a `[h]:mm:ss` duration past 24 hours, a value under 1 in a
    date format, a time stored a hair under a whole second."""
    import datetime
    wb = Workbook()
    ws = wb.active
    ws.title = "Users"
    ws.append(U + ["shift_start", "on_call", "noon", "lap"])
    ws.append(["a@acme.com", "R1", "Al Bo", datetime.time(9, 30),
               datetime.timedelta(hours=37, minutes=30), 0.5, 330 / 86400])
    ws.append(["b@acme.com", "R2", "Bo Al", datetime.time(17, 5, 7),
               datetime.timedelta(hours=8), 0.75, 329.9999999 / 86400])
    for r in (2, 3):
        for c, code in [(4, "hh:mm"), (5, "[h]:mm:ss"), (6, "yyyy-mm-dd hh:mm"), (7, "hh:mm:ss")]:
            ws.cell(r, c).number_format = code
    wb.save(os.path.join(HERE, "batches", "times.xlsx"))


def padded_fixture():
    """Numbers under formats that pad them with zeros, for the .xls beside it (LibreOffice's
    conversion, which writes a row of numbers as one MULRK record and others as RK or NUMBER):
    an XLS cell's number format is read from its XF, as calamine does not."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Users"
    ws.append(U + ["employee_id", "cost_center_id", "custom.badge", "custom.code", "custom.plain"])
    ws.append(["a@acme.com", "R1", "Al Bo", 45, 7, 12, 3, 5])
    ws.append(["b@acme.com", "R2", "Bo Al", 123456, 42, 1.5, -42, 9])
    ws.append(["c@acme.com", "R3", "Cy Do", 46, 0, 99999, 8, 1234567])
    for r in (2, 3, 4):
        for c, code in [(4, "000000"), (5, "00000"), (6, "0000"), (7, "0000;-0000"), (8, "0")]:
            ws.cell(r, c).number_format = code
    wb.save(os.path.join(HERE, "batches", "padded.xlsx"))


def shared_formulas_fixture():
    """V007 on formulas filled down a column. The .xls beside it is LibreOffice's conversion
    of it, which writes them as one shared formula (calamine gives no text for it)."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Users"
    ws.append(U + ["first_name", "last_name", "department", "expect"])
    ws.append(["a@acme.com", "R1", '=D2&" "&E2', "Ann", "Lee", "Sales", "V007"])
    ws.append(["b@acme.com", "R2", '=D3&" "&E3', "Bob", "Roe", "Sales", "V007"])
    ws.append(["c@acme.com", "R3", '=D4&" "&E4', "Cy", "Do", "=F3", "V007"])
    ws.append(["d@acme.com", "R4", "Dee Fu", "Dee", "Fu", "Ops", ""])
    wb.save(os.path.join(HERE, "rules", "V007-shared.xlsx"))


def bad_inputs():
    d = os.path.join(HERE, "bad")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    open(os.path.join(d, "empty.csv"), "w").close()
    with open(os.path.join(d, "header-only.csv"), "w") as f:
        f.write("email_addr,record_id,full_name\n")
    with open(os.path.join(d, "id-columns.csv"), "w") as f:
        f.write("email_addr,record_id,full_name,itsm.servicenow.sys_id,channel.slack.external_id,slack.user_id,custom.idm.okta.login\n"
                "ann@acme.com,CTR-1,Ann Lee,2901cfb2ca14aadeafae536cc749591d,ann,U012AB3CD,ann@acme.com\n")
    with open(os.path.join(d, "binary.csv"), "wb") as f:
        f.write(bytes(range(256)) * 4)
    with open(os.path.join(d, "really-a-csv.xlsx"), "w") as f:
        f.write("email_addr,record_id,full_name\na@acme.com,R1,Al Bo\n")
    src = os.path.join(HERE, "batches", "q3-contractors.xlsx")
    data = open(src, "rb").read()
    with open(os.path.join(d, "truncated.xlsx"), "wb") as f:
        f.write(data[: len(data) // 3])
    wb = Workbook()
    wb.active.title = "Contractors"
    wb.active.append(["email_addr", "record_id", "full_name"])
    wb.create_sheet("Notes").append(["nothing here"])
    wb.save(os.path.join(d, "no-users-sheet.xlsx"))
    misnamed_sheet(d)
    with open(os.path.join(d, "columns.csv"), "w") as f:
        f.write("Email,E-mail,Unique Record ID,Name,Deparment,API Token\n")
        f.write("a@acme.com,a@acme.com,R1,Al Bo,IT,tok_live_51Hsecret\n")
    with open(os.path.join(d, "missing-column.csv"), "w") as f:
        f.write("User Email,record_id,full_name\na@acme.com,R1,Al Bo\n")
    with open(os.path.join(d, "title-row.csv"), "w") as f:
        f.write("Northwind Staffing - Q3 batch\n\nemail_addr,record_id,full_name\na@acme.com,R1,Al Bo\n")
    with open(os.path.join(d, "deep-header.csv"), "w") as f:
        f.write("".join(f"Note {i}: read the instructions,,\n" for i in range(1, 13)))
        f.write("email_addr,record_id,full_name,department\na@acme.com,R1,Al Bo,IT\n")
    hostile_inputs(d)


def misnamed_sheet(d):
    """An `ITSM` sheet beside `Users`: F008, for its rows would be lost without a sound."""
    wb = Workbook()
    wb.active.title = "Users"
    wb.active.append(["email_addr", "record_id", "full_name"])
    wb.active.append(["a@acme.com", "R1", "Al Bo"])
    itsm = wb.create_sheet("ITSM")
    itsm.append(["record_id", "integration", "user_id"])
    itsm.append(["R1", "servicenow", "0123456789abcdef0123456789abcdef"])
    wb.save(os.path.join(d, "misnamed-sheet.xlsx"))


def write_markup_inputs(d):
    """What web services serve as `.xls`, and LibreOffice's flat ODS (producers review)."""
    def raw(name, data):
        with open(os.path.join(d, name), "w", encoding="utf-8", newline="") as f:
            f.write(data)
    raw("web-page-named.xls", "<!DOCTYPE html>\n<html><body><table><tr><td>email_addr</td><td>record_id</td>"
        "<td>full_name</td></tr><tr><td>a@acme.com</td><td>R1</td><td>Al Bo</td></tr></table></body></html>\n")
    raw("csv-named.xls", "email_addr,record_id,full_name\na@acme.com,R1,Al Bo\n")
    raw("flat.fods", '<?xml version="1.0" encoding="UTF-8"?>\n<office:document xmlns:office='
        '"urn:oasis:names:tc:opendocument:xmlns:office:1.0" office:version="1.2" office:mimetype='
        '"application/vnd.oasis.opendocument.spreadsheet"><office:body><office:spreadsheet/></office:body>'
        '</office:document>\n')


def hostile_inputs(d):
    """The rest of the bad-input corpus (issue 6): each file has a test with its exact message."""
    head = "email_addr,record_id,full_name\n"

    def raw(name, data):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode("utf-8"))

    raw("only-blank-lines.csv", "\n\n   \n\n")
    raw("unbalanced-quotes.csv", head + 'a@acme.com,R1,"Al Bo\nb@acme.com,R2,Bo Al\n')
    raw("ragged.csv", head + "a@acme.com,R1,Al Bo,extra,more\nb@acme.com,R2\nc@acme.com,R3,Cy Do\n")
    # Empty header cells at the end: the header ends at its last named column, as
    # the same row does in a workbook (which keeps no empty cells).
    raw("empty-header-cells.csv", "email_addr,record_id,full_name,,\na@acme.com,R1,Al Bo,x,\n")
    raw("nul-byte.csv", head + "a@acme.com,R1,Al\x00Bo\n")
    raw("invalid-utf8.csv", head.encode() + b"jose@acme.com,R1,Jos\xe9 Garc\xeda\n")
    raw("bom-then-windows-1252.csv", b"\xef\xbb\xbf" + head.encode() + b"jose@acme.com,R1,Jos\xe9 Garc\xeda\n")
    raw("utf16-no-bom.csv", (head + "a@acme.com,R1,Al Bo\n").encode("utf-16-le"))
    raw("long-cell.csv", head + "a@acme.com,R1," + "x" * 40000 + "\n")
    raw("wide.csv", ",".join(["email_addr", "record_id", "full_name"] + [f"c{i}" for i in range(20000)]) + "\n")
    raw("duplicate-headers.csv", "email_addr,record_id,full_name,full_name\na@acme.com,R1,Al Bo,Bo Al\n")
    write_markup_inputs(d)
    # An encrypted workbook is an OLE compound file, whatever its extension.
    raw("password-protected.xlsx", bytes([0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) + bytes(4088))
    # A zip bomb: one part that unpacks to 1.5 GiB of zeros, a few MB on disk.
    import zipfile
    with zipfile.ZipFile(os.path.join(d, "zip-bomb.xlsx"), "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            chunk = bytes(1 << 20)
            for _ in range(1536):
                part.write(chunk)
    wb = Workbook()
    users = wb.active
    users.title = "Users"
    users.append(["email_addr", "record_id", "full_name"])
    users.append(["a@acme.com", "R1", "Al Bo"])
    hidden = wb.create_sheet("ITSM IDs")
    hidden.append(["record_id", "integration", "user_id", "external_id"])
    hidden.append(["NOBODY", "servicenow", "6816f79cc0a8016401c5a33be04be441", "nobody"])
    hidden.sheet_state = "hidden"
    wb.save(os.path.join(d, "hidden-sheets.xlsx"))
    wb = Workbook()
    users = wb.active
    users.title = "Users"
    users.append(["email_addr", "record_id", "full_name"])
    users.append(["a@acme.com", "R1", "Al Bo"])
    users.append([None, "R2", "Bo Al"])
    users.merge_cells("A2:A3")
    wb.save(os.path.join(d, "merged-cells.xlsx"))
    # An error value newer than calamine reads (`#SPILL!`): the sheet is F001, with a hint.
    wb = Workbook()
    users = wb.active
    users.title = "Users"
    users.append(["email_addr", "record_id", "full_name"])
    users.append(["a@acme.com", "R1", "#N/A"])
    path = os.path.join(d, "error-cell.xlsx")
    wb.save(path)
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    assert b't="e"><v>#N/A</v>' in parts[sheet]
    parts[sheet] = parts[sheet].replace(b"#N/A", b"#SPILL!")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for n, data in parts.items():
            z.writestr(n, data)


if __name__ == "__main__":
    import sys
    if sys.argv[1:] == ["markup"]:
        write_markup_inputs(os.path.join(HERE, "bad"))
        sys.exit()
    if sys.argv[1:] == ["hostile"]:
        hostile_inputs(os.path.join(HERE, "bad"))
        sys.exit()
    if sys.argv[1:] == ["merged"]:
        merged_fixture()
        merged_hidden_fixture()
        sys.exit()
    if sys.argv[1:] == ["times"]:
        times_fixture()
        sys.exit()
    if sys.argv[1:] == ["hidden"]:
        hidden_fixture()
        sys.exit()
    if sys.argv[1:] == ["shared-formulas"]:
        shared_formulas_fixture()
        sys.exit()
    if sys.argv[1:] == ["mangled"]:
        mangled_fixture()
        sys.exit()
    if sys.argv[1:] == ["V014"]:
        rule_csv("V014", ["employee_id"], V014_ROWS)
        sys.exit()
    if sys.argv[1:] == ["V015"]:
        rule_csv("V015", ["city", "custom.note"], V015_ROWS)
        sys.exit()
    if sys.argv[1:] == ["padded"]:
        padded_fixture()
        sys.exit()
    if sys.argv[1:] == ["code-pages"]:
        code_pages(os.path.join(HERE, "batches", "code-pages"))
        sys.exit()
    os.makedirs(os.path.join(HERE, "batches"), exist_ok=True)
    clean_workbook(os.path.join(HERE, "batches", "q3-contractors.xlsx"))
    flat_inline(os.path.join(HERE, "batches", "flat-inline.csv"))
    excel_windows_dir(os.path.join(HERE, "batches", "excel-windows"))
    semicolons_with_commas(os.path.join(HERE, "batches", "semicolons-with-commas.csv"))
    code_pages(os.path.join(HERE, "batches", "code-pages"))
    rule_fixtures()
    merged_fixture()
    merged_hidden_fixture()
    times_fixture()
    padded_fixture()
    hidden_fixture()
    shared_formulas_fixture()
    bad_inputs()
