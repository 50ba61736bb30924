"""auto reads a payload that is mostly text as text, its other bytes escaped, and never
turns binary into letters (issue 17, item 13: the log's Data column showed such replies
as all hex)."""

from decoders import SUMMARY_LIMITS, decode, decoder_for, summary


def test_mostly_text_is_text_with_the_other_bytes_escaped() -> None:
    decoded = decode(b"status: ok\x00\x01", decoder_for("auto"), SUMMARY_LIMITS)
    assert (decoded.decoder, summary(decoded, 80)) == ("text", "status: ok\\x00\\x01")


def test_binary_bytes_that_form_a_valid_sequence_stay_bytes() -> None:
    payload = b"hello, client! you said: \xde\xad\xbe\xef"
    decoded = decode(payload, decoder_for("auto"), SUMMARY_LIMITS)
    assert summary(decoded, 80) == "hello, client! you said: \\xde\\xad\\xbe\\xef"
    assert decode(b"\xde\xad\xbe\xef", decoder_for("auto"), SUMMARY_LIMITS).decoder == "hex"
