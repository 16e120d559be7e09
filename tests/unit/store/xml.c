/*
 * The strict XML reader used for S3 and STS responses.
 */
#include <stdlib.h>
#include <string.h>

#include "astra_test.h"
#include "core/buf.h"
#include "fmt/xml.h"

static const char list_v2[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Name>tb-plain</Name><Prefix>v/data/</Prefix><KeyCount>2</KeyCount>"
        "<MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>"
        "<Contents><Key>v/data/a%20b</Key>"
        "<LastModified>2026-11-22T02:26:13.420Z</LastModified>"
        "<ETag>&#34;d16ce05cf9b3ad69408ae4959bd53042&#34;</ETag>"
        "<Size>898</Size><StorageClass>STANDARD</StorageClass></Contents>"
        "<Contents><Key>v/data/c</Key><Size>0</Size></Contents>"
        "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/"
        "wm36Hy4vbOwM=</NextContinuationToken>"
        "</ListBucketResult>";

static astra__xml *parse_ok(const char *s)
{
	astra__xml *x = NULL;
	cr_assert_astra_ok(astra__xml_parse(&x, s, strlen(s), "test"));
	cr_assert_not_null(x);
	return x;
}

static void parse_bad(const char *s, size_t n, const char *why)
{
	astra__xml *x = NULL;
	int rc = astra__xml_parse(&x, s, n, "test");
	cr_assert_eq(rc, ASTRA_EPARSE, "accepted (%s): %.*s", why, (int)n, s);
	cr_assert_null(x);
	cr_assert_not_null(strstr(astra_error_last()->message, "test"),
	        "the message names the document: %s",
	        astra_error_last()->message);
}

Test(store_xml, list_objects_v2_response)
{
	astra__xml *x = parse_ok(list_v2);
	cr_assert_str_eq(astra__xml_name(x), "ListBucketResult");
	cr_assert_str_eq(astra__xml_child_text(x, "IsTruncated"), "true");
	cr_assert_str_eq(astra__xml_child_text(x, "NextContinuationToken"),
	        "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
	const astra__xml *c = astra__xml_child(x, "Contents");
	cr_assert_str_eq(astra__xml_child_text(c, "Key"), "v/data/a%20b");
	cr_assert_str_eq(astra__xml_child_text(c, "ETag"),
	        "\"d16ce05cf9b3ad69408ae4959bd53042\"");
	cr_assert_str_eq(astra__xml_child_text(c, "Size"), "898");
	c = astra__xml_next(c, "Contents");
	cr_assert_str_eq(astra__xml_child_text(c, "Key"), "v/data/c");
	cr_assert_null(astra__xml_child_text(c, "LastModified"));
	cr_assert_null(astra__xml_next(c, "Contents"));
	cr_assert_null(astra__xml_child(x, "Missing"));
	astra__xml_free(x);
}

Test(store_xml, error_and_nested_paths)
{
	astra__xml *x = parse_ok(
	        "<Error><Code>SignatureDoesNotMatch</Code><Message>The "
	        "request signature &lt;calculated&gt; &amp; yours "
	        "differ</Message><RequestId>18EA3C</RequestId></Error>");
	cr_assert_str_eq(
	        astra__xml_child_text(x, "Code"), "SignatureDoesNotMatch");
	cr_assert_str_eq(astra__xml_child_text(x, "Message"),
	        "The request signature <calculated> & yours differ");
	astra__xml_free(x);
	x = parse_ok("<a:Root xmlns:a='urn:x'><a:B><C>t</C></a:B><!-- c -->"
	             "<D><![CDATA[<raw> & text]]></D><?pi x?><E/></a:Root>");
	cr_assert_str_eq(astra__xml_name(x), "Root");
	cr_assert_str_eq(astra__xml_text(astra__xml_path(x, "B/C")), "t");
	cr_assert_str_eq(astra__xml_child_text(x, "D"), "<raw> & text");
	cr_assert_str_eq(astra__xml_child_text(x, "E"), "");
	cr_assert_null(astra__xml_path(x, "B/X"));
	astra__xml_free(x);
}

Test(store_xml, character_references_become_utf8)
{
	astra__xml *x = parse_ok("<k>&#65;&#x42;&#xE9;&#x1F600;&apos;</k>");
	cr_assert_str_eq(astra__xml_text(x), "AB\xC3\xA9\xF0\x9F\x98\x80'");
	astra__xml_free(x);
}

Test(store_xml, every_truncation_of_a_valid_document_is_an_error)
{
	size_t n = strlen(list_v2);
	for (size_t i = 0; i < n; i++) {
		/* trailing whitespace only after the root would be fine */
		astra__xml *x = NULL;
		int rc = astra__xml_parse(&x, list_v2, i, "cut");
		cr_assert_eq(rc, ASTRA_EPARSE, "a cut at %zu was accepted", i);
		cr_assert_null(x);
	}
}

Test(store_xml, malformed_documents_are_refused)
{
	static const char *bad[] = {
		"",
		"   ",
		"text",
		"<a>",
		"<a></b>",
		"<a><b></a></b>",
		"<a/><b/>",
		"<a/>trailing",
		"<a>&bogus;</a>",
		"<a>&#0;</a>",
		"<a>&#xD800;</a>",
		"<a>&#x110000;</a>",
		"<a>&amp</a>",
		"<a b=c/>",
		"<a b='1' c></a>",
		"<a b='<'/>",
		"<a b='1'c='2'/>",
		"<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>",
		"<a><!-- never closed </a>",
		"<a><![CDATA[ open </a>",
		"<1a/>",
		"< a/>",
		"<a></a >x",
		"<a/ >",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		parse_bad(bad[i], strlen(bad[i]), "malformed");
	/* control characters and NUL bytes */
	parse_bad("<a>\x01</a>", 7, "control character");
	parse_bad("<a>x\0y</a>", 10, "NUL byte");
}

Test(store_xml, nesting_is_limited)
{
	astra_buf b = ASTRA_BUF_INIT;
	for (int i = 0; i < 100; i++)
		astra__buf_puts(&b, "<a>");
	for (int i = 0; i < 100; i++)
		astra__buf_puts(&b, "</a>");
	parse_bad(b.ptr, b.size, "too deep");
	astra_buf_dispose(&b);
	astra__buf_clear(&b);
	for (int i = 0; i < 60; i++)
		astra__buf_puts(&b, "<a>");
	for (int i = 0; i < 60; i++)
		astra__buf_puts(&b, "</a>");
	astra__xml *x = NULL;
	cr_assert_astra_ok(astra__xml_parse(&x, b.ptr, b.size, "deep"));
	astra__xml_free(x);
	astra_buf_dispose(&b);
}

Test(store_xml, escaping_round_trips)
{
	astra_buf b = ASTRA_BUF_INIT;
	astra__buf_puts(&b, "<k>");
	cr_assert_astra_ok(astra__xml_escape(&b, "a<b>&\"c'"));
	astra__buf_puts(&b, "</k>");
	cr_assert_str_eq(b.ptr, "<k>a&lt;b&gt;&amp;&quot;c&apos;</k>");
	astra__xml *x = parse_ok(b.ptr);
	cr_assert_str_eq(astra__xml_text(x), "a<b>&\"c'");
	astra__xml_free(x);
	astra_buf_dispose(&b);
}
