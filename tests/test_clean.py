import pytest

from tousu.nlp.clean import CleanOptions, clean_text, load_boilerplate, mask_pii, to_halfwidth, to_simplified


@pytest.mark.parametrize(
    "raw, masked",
    [
        ("电话13812345678请回电", "电话<PHONE>请回电"),
        ("电话 138-1234-5678", "电话 <PHONE>"),
        ("电话+86 138 1234 5678。", "电话<PHONE>。"),
        ("座机010-87654321转", "座机<PHONE>转"),
        ("座机(0755)86001234", "座机<PHONE>"),
        ("座机0571 88881234", "座机<PHONE>"),
        ("身份证110105199003071234", "身份证<ID>"),
        ("身份证11010519900307123X号", "身份证<ID>号"),
        ("旧证110105900307123", "旧证<ID>"),
        ("卡号6222021234567890123", "卡号<CARD>"),
        ("卡号6222 0212 3456 7890", "卡号<CARD>"),
        ("邮箱zhang.san@example.com。", "邮箱<EMAIL>。"),
    ],
)
def test_pii_is_masked(raw, masked):
    assert mask_pii(raw) == masked


@pytest.mark.parametrize(
    "text",
    [
        "打10086没人接，向12300投诉，拨打12321举报",
        "扣了100元，3月23日9:45发生，5G套餐30G流量",
        "号码******被停机，身份证号******",
        "订单号2026030688",
    ],
)
def test_non_pii_numbers_and_existing_masks_are_kept(text):
    assert mask_pii(text) == text


@pytest.mark.parametrize(
    "raw, masked",
    [
        ("Tel13812345678", "Tel<PHONE>"),
        ("加wx15912345678详聊", "加wx<PHONE>详聊"),
        ("TEL:+8613812345678", "TEL:<PHONE>"),
        ("ID110101199003071234", "ID<ID>"),
        ("sfz11010519900307123Xabc", "sfz<ID>abc"),
        ("电话138.1234.5678。", "电话<PHONE>。"),
        ("电话138 1234 5678", "电话<PHONE>"),
        ("电话138-1234-5678", "电话<PHONE>"),
        ("电话+86 138 1234 5678", "电话<PHONE>"),
        ("电话0086-138-1234-5678", "电话<PHONE>"),
        ("证件号110101 19900307 1234", "证件号<ID>"),
        ("证件号110101-1990-0307-1234", "证件号<ID>"),
        ("卡号6222 0212 3456 7897", "卡号<CARD>"),
        ("卡号4111111111111111", "卡号<CARD>"),  # not UnionPay, but a card number passes Luhn
    ],
)
def test_phone_and_id_numbers_glued_to_letters_or_split_are_masked(raw, masked):
    assert mask_pii(raw) == masked


@pytest.mark.parametrize(
    "text",
    [
        "订单号2026030612345678901已退款",  # a 19-digit order number (not a card: fails Luhn, not 62…)
        "订单编号DD2026030612345678",
        "工单号GD20260500001，流水号20260901000123",
        "扣了58元，退回128.50元，又扣-1.5元",
        "2026-09-01 13:45:00办理，20260901到期，9:45到10:30之间",
        "专线编号CMNET-NQ-B-FTTO-304501",
        "时间戳1693526400000",
        "版本v13.8.1，套餐128元30G",
    ],
)
def test_order_numbers_amounts_dates_and_times_survive(text):
    assert mask_pii(text) == text


def test_fullwidth_becomes_halfwidth_but_chinese_punctuation_stays():
    assert to_halfwidth("ＡＰＰ充值１００元！　好。") == "APP充值100元! 好。"


def test_traditional_becomes_simplified():
    assert to_simplified("客戶來電反映手機資費太貴") == "客户来电反映手机资费太贵"


def test_simplified_conversion_matches_opencc_on_every_kind_of_text():
    """Texts without a character OpenCC would replace skip the converter; the result must
    be OpenCC's own, for phrases whose changed character is not the first one too."""
    from opencc import OpenCC

    texts = ["不瞭解為什麼扣費", "反覆斷線", "乾隆年間", "乾燥", "营业厅排队等候太久", "沈阳用户反映信号差",
             "我的頭髮", "5G網速慢", "", "nothing Chinese"]
    converter = OpenCC("t2s")
    assert [to_simplified(t) for t in texts] == [converter.convert(t) for t in texts]


def test_fullwidth_digits_are_masked_after_folding():
    assert "<PHONE>" in clean_text("联系电话：１３８１２３４５６７８")


@pytest.mark.parametrize(
    "raw, cleaned",
    [
        ("客户来电反映：宽带断网三天了，请处理，谢谢！", "宽带断网三天了"),
        ("用户称营业厅排队两小时。请协助核实处理。", "营业厅排队两小时"),
        ("客戶反映：話費亂扣費，請儘快處理", "话费乱扣费"),
        ("工单内容：信号差  经常  掉线", "信号差经常掉线"),
    ],
)
def test_clean_text_strips_boilerplate_and_normalises(raw, cleaned):
    assert clean_text(raw) == cleaned


def test_text_that_is_only_boilerplate_is_not_emptied():
    assert clean_text("请处理，谢谢") != ""


def test_masking_can_be_switched_off():
    text = "电话13812345678"
    assert clean_text(text, CleanOptions(mask=False)) == text
    assert clean_text(text) == "电话<PHONE>"


def test_boilerplate_rules_are_versioned_data(tmp_path):
    assert load_boilerplate().version == "1"
    bad = tmp_path / "rules.tsv"
    bad.write_text("# version: 2\nsomewhere\t.*\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"rules.tsv, line 2"):
        load_boilerplate(str(bad))
