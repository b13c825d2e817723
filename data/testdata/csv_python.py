# Writes csv_python.json: CSV texts and the records Python's csv module
# reads from them (csv.reader, default dialect, strict=False, over the text
# opened with newline=''), each record's first line, and whether
# strict=True refuses the text (text after a closing quote, a quote never
# closed), as gptctl does. Blank lines ([] to Python) are left out: gptctl
# skips them. Run: python3 csv_python.py > csv_python.json
import csv, io, json, random

def read(text, strict):
    r = csv.reader(io.StringIO(text, newline=''), strict=strict)
    recs, lines, prev = [], [], 0
    for rec in r:
        if rec:
            recs.append(rec)
            lines.append(prev + 1)
        prev = r.line_num
    return recs, lines

hand = [
    'a,b\n', 'a,b', 'a,b\r\n', 'a,b\r', '\n\na\n\n', ',\n', ' \n', '""\n', '"",""\n',
    'he said "hi",x\n', '98,he said "hi","multi\nline",yes,1.0\n',
    '98,"multi\nline",he said "hi",1.0\n', 'a"b,"c""d"\n', '"a, b",c\n',
    '"two\r\nlines",x\r\n', '"one\rtwo"\n', '"a ""q""\r"\r\n', 'x"y"z,w\n',
    '"say" hi,1\n', '"open,1\n', '"two\nlines"x,1\n', 'a,"b\n\nc"\nd\n',
    'a,b"\n"c,d\n', '"""",x\n', '" "" ",y\n', 'caf\u00e9,"na\u00efve"\n',
    '"",\n', 'a,,\n', '"a"\n\n"b"\n', 'a"\nb"\n',
]
random.seed(1)
alphabet = ['a', 'b', ',', '"', '"', '\n', '\r\n', ' ', '\u00e9']
rand = set()
while len(rand) < 600:
    rand.add(''.join(random.choice(alphabet) for _ in range(random.randint(1, 14))))
cases = []
for text in hand + sorted(rand):
    try:
        read(text, True)
        refused = False
    except csv.Error:
        refused = True
    recs, lines = read(text, False)
    cases.append({'in': text, 'records': recs, 'lines': lines, 'refused': refused})
json.dump(cases, __import__('sys').stdout, ensure_ascii=False, indent=0)
