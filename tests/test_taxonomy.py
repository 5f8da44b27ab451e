import pytest

from tousu.models.taxonomy import MIIT_CLASSES, TaxonomyError, load_taxonomy

REQUIRED = {
    "BIL": "资费", "MIS": "营销", "CHG": "服务", "NET": "网络", "INS": "服务", "HOT": "服务",
    "QUE": "服务", "HDL": "服务", "ATT": "服务", "SEC": "安全", "VAS": "服务", "OTH": "服务",
}


def test_bundled_telecom_taxonomy_covers_the_required_categories():
    taxonomy = load_taxonomy()
    assert taxonomy.name == "telecom-cn" and taxonomy.version == "1"
    assert {code: taxonomy[code].miit for code in REQUIRED} == REQUIRED
    assert all(c.miit in MIIT_CLASSES for c in taxonomy.categories)
    assert {"MIS.UNAUTH", "MIS.EXAGGERATED", "MIS.CONTRACT"} <= {c.code for c in taxonomy["MIS"].children}
    assert taxonomy["MIS.UNAUTH"].parent == "MIS" and taxonomy["MIS.UNAUTH"].level == 2
    assert len(taxonomy.sha256) == 64 and taxonomy.other_code == "OTH"


def test_a_user_file_with_the_documented_format_loads(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(
        "name: my-taxonomy\nversion: 3\ncategories:\n"
        "  - code: A\n    name: 甲\n    name_en: Alpha\n    description: 第一类\n    keywords: [扣费]\n    children: []\n"
        "  - code: B\n    name: 乙\n    keywords: [信号]\n",
        encoding="utf-8",
    )
    taxonomy = load_taxonomy(path)
    assert taxonomy.codes == ["A", "B"] and taxonomy.version == "3" and taxonomy.other_code is None
    assert taxonomy["A"].prompt() == "甲：第一类：扣费"


@pytest.mark.parametrize("body, message", [
    ("name: x\nversion: 1\n", "missing top-level key 'categories'"),
    ("name: x\nversion: 1\ncategories: []\n", "categories: expected a non-empty list"),
    ("name: x\nversion: 1\ncategories:\n  - name: 无代码\n", r"categories\[0\]\.code: required"),
    ("name: x\nversion: 1\ncategories:\n  - {code: A, name: 甲}\n  - {code: A, name: 乙}\n",
     r"categories\[1\]\.code: duplicate code 'A' \(also at categories\[0\]\)"),
    ("name: x\nversion: 1\ncategories:\n  - {code: A, name: 甲, colour: red}\n", "unknown keys \\['colour'\\]"),
    ("name: x\nversion: 1\ncategories:\n  - {code: A, name: 甲, miit: 其他}\n", "miit: '其他' is not one of"),
    ("name: x\nversion: 1\ncategories:\n  - {code: A, name: 甲, keywords: 扣费}\n", "keywords: expected a list"),
    ("name: x\nversion: 1\ncategories:\n  - code: A\n    name: 甲\n    children:\n      - code: A1\n        name: 子\n"
     "        children:\n          - {code: A11, name: 孙}\n", "only two levels"),
    ("name: [unclosed\n", "not valid UTF-8 YAML"),
])
def test_bad_taxonomy_files_name_the_file_and_the_entry(tmp_path, body, message):
    path = tmp_path / "bad.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(TaxonomyError, match=message) as error:
        load_taxonomy(path)
    assert str(path) in str(error.value)


def test_missing_taxonomy_file(tmp_path):
    with pytest.raises(TaxonomyError, match="taxonomy file not found"):
        load_taxonomy(tmp_path / "none.yaml")
