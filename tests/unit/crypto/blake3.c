/*
 * BLAKE3 known answers (computed with Debian's b3sum 1.2.0 over inputs of
 * the official test-vector shape, byte i = i % 251; keyed with the 32-byte
 * key "whats the Elvish word for friend") and agreement of the portable,
 * AVX2 and AVX-512 implementations.
 */
#include <stdlib.h>
#include <string.h>

#include "astra_test.h"
#include "core/base64.h"
#include "crypto/blake3.h"

static const uint8_t kat_key[33] = "whats the Elvish word for friend";

static const struct {
	size_t len;
	const char *hash, *keyed;
} kat[] = {
	{ 0, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
	        "92b2b75604ed3c761f9d6f62392c8a9227ad0ea3f09573e783f1498a4ed60d26" },
	{ 1, "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213",
	        "6d7878dfff2f485635d39013278ae14f1454b8c0a3a2d34bc1ab38228a80c95b" },
	{ 63, "e9bc37a594daad83be9470df7f7b3798297c3d834ce80ba85d6e207627b7db7b",
	        "bb1eb5d4afa793c1ebdd9fb08def6c36d10096986ae0cfe148cd101170ce37ae" },
	{ 64, "4eed7141ea4a5cd4b788606bd23f46e212af9cacebacdc7d1f4c6dc7f2511b98",
	        "ba8ced36f327700d213f120b1a207a3b8c04330528586f414d09f2f7d9ccb7e6" },
	{ 65, "de1e5fa0be70df6d2be8fffd0e99ceaa8eb6e8c93a63f2d8d1c30ecb6b263dee",
	        "c0a4edefa2d2accb9277c371ac12fcdbb52988a86edc54f0716e1591b4326e72" },
	{ 1023, "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11",
	        "c951ecdf03288d0fcc96ee3413563d8a6d3589547f2c2fb36d9786470f1b9d6e" },
	{ 1024, "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7",
	        "75c46f6f3d9eb4f55ecaaee480db732e6c2105546f1e675003687c31719c7ba4" },
	{ 1025, "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444",
	        "357dc55de0c7e382c900fd6e320acc04146be01db6a8ce7210b7189bd664ea69" },
	{ 2048, "e776b6028c7cd22a4d0ba182a8bf62205d2ef576467e838ed6f2529b85fba24a",
	        "879cf1fa2ea0e79126cb1063617a05b6ad9d0b696d0d757cf053439f60a99dd1" },
	{ 2049, "5f4d72f40d7a5f82b15ca2b2e44b1de3c2ef86c426c95c1af0b6879522563030",
	        "9f29700902f7c86e514ddc4df1e3049f258b2472b6dd5267f61bf13983b78dd5" },
	{ 3072, "b98cb0ff3623be03326b373de6b9095218513e64f1ee2edd2525c7ad1e5cffd2",
	        "044a0e7b172a312dc02a4c9a818c036ffa2776368d7f528268d2e6b5df191770" },
	{ 3073, "7124b49501012f81cc7f11ca069ec9226cecb8a2c850cfe644e327d22d3e1cd3",
	        "68dede9bef00ba89e43f31a6825f4cf433389fedae75c04ee9f0cf16a427c95a" },
	{ 4096, "015094013f57a5277b59d8475c0501042c0b642e531b0a1c8f58d2163229e969",
	        "befc660aea2f1718884cd8deb9902811d332f4fc4a38cf7c7300d597a081bfc0" },
	{ 4097, "9b4052b38f1c5fc8b1f9ff7ac7b27cd242487b3d890d15c96a1c25b8aa0fb995",
	        "00df940cd36bb9fa7cbbc3556744e0dbc8191401afe70520ba292ee3ca80abbc" },
	{ 5120, "9cadc15fed8b5d854562b26a9536d9707cadeda9b143978f319ab34230535833",
	        "2c493e48e9b9bf31e0553a22b23503c0a3388f035cece68eb438d22fa1943e20" },
	{ 5121, "628bd2cb2004694adaab7bbd778a25df25c47b9d4155a55f8fbd79f2fe154cff",
	        "6ccf1c34753e7a044db80798ecd0782a8f76f33563accaddbfbb2e0ea4b2d024" },
	{ 6144, "3e2e5b74e048f3add6d21faab3f83aa44d3b2278afb83b80b3c35164ebeca205",
	        "3d6b6d21281d0ade5b2b016ae4034c5dec10ca7e475f90f76eac7138e9bc8f1d" },
	{ 6145, "f1323a8631446cc50536a9f705ee5cb619424d46887f3c376c695b70e0f0507f",
	        "9ac301e9e39e45e3250a7e3b3df701aa0fb6889fbd80eeecf28dbc6300fbc539" },
	{ 7168, "61da957ec2499a95d6b8023e2b0e604ec7f6b50e80a9678b89d2628e99ada77a",
	        "b42835e40e9d4a7f42ad8cc04f85a963a76e18198377ed84adddeaecacc6f3fc" },
	{ 7169, "a003fc7a51754a9b3c7fae0367ab3d782dccf28855a03d435f8cfe74605e7817",
	        "ed9b1a922c046fdb3d423ae34e143b05ca1bf28b710432857bf738bcedbfa511" },
	{ 8192, "aae792484c8efe4f19e2ca7d371d8c467ffb10748d8a5a1ae579948f718a2a63",
	        "dc9637c8845a770b4cbf76b8daec0eebf7dc2eac11498517f08d44c8fc00d58a" },
	{ 8193, "bab6c09cb8ce8cf459261398d2e7aef35700bf488116ceb94a36d0f5f1b7bc3b",
	        "954a2a75420c8d6547e3ba5b98d963e6fa6491addc8c023189cc519821b4a1f5" },
	{ 16384,
	        "f875d6646de28985646f34ee13be9a576fd515f76b5b0a26bb324735041ddde4",
	        "9e9fc4eb7cf081ea7c47d1807790ed211bfec56aa25bb7037784c13c4b707b0d" },
	{ 31744,
	        "62b6960e1a44bcc1eb1a611a8d6235b6b4b78f32e7abc4fb4c6cdcce94895c47",
	        "efa53b389ab67c593dba624d898d0f7353ab99e4ac9d42302ee64cbf9939a419" },
	{ 102400,
	        "bc3e3d41a1146b069abffad3c0d44860cf664390afce4d9661f7902e7943e085",
	        "1c35d1a5811083fd7119f5d5d1ba027b4d01c0c6c49fb6ff2cf75393ea5db4a7" },
	{ 1048576,
	        "74cb441fd087764ca9c3694da742ebe30cbeb3060a17009ca81825c7a8d10343",
	        "59b889b0821111fc4c249dc98b5435b767b44fb881542c61a85c1bebbffb2906" },
	{ 2097153,
	        "52dc212cb4cc61cb94d25bd7b1d47b256e4c3a6d68956df50c235c37a2aeacd7",
	        "46372afc56f0970508061736a8c35317b7932df6ebe4c9af4c495f0f41665f3a" },
	{ 8388608,
	        "1adedad9735f565ac6e22dab203db63b960c27098f2c0f0fda9adf9238d4c0c9",
	        "f22beea1c6d83928698c0c0f588555eeb57a868e06a69144baad946ff72e1b94" },
};

static uint8_t *kat_input(size_t n)
{
	uint8_t *d = malloc(n ? n : 1);
	cr_assert_not_null(d);
	for (size_t i = 0; i < n; i++)
		d[i] = (uint8_t)(i % 251);
	return d;
}

static const int impls[] = { ASTRA_BLAKE3_PORTABLE, ASTRA_BLAKE3_VEC4,
	ASTRA_BLAKE3_AVX2, ASTRA_BLAKE3_AVX512, ASTRA_BLAKE3_AUTO };

Test(crypto_blake3, known_answers_in_both_modes_on_every_path)
{
	size_t max = 0;
	for (size_t k = 0; k < sizeof(kat) / sizeof(kat[0]); k++)
		max = kat[k].len > max ? kat[k].len : max;
	uint8_t *d = kat_input(max);
	for (size_t k = 0; k < sizeof(kat) / sizeof(kat[0]); k++) {
		for (size_t i = 0; i < sizeof(impls) / sizeof(impls[0]); i++) {
			if (!astra__blake3_supported(impls[i]))
				continue;
			uint8_t out[32];
			char h[65];
			astra__blake3_with(impls[i], NULL, d, kat[k].len, out);
			astra__hex_encode(h, out, 32);
			cr_expect_str_eq(h, kat[k].hash, "hash, %zu bytes, %s",
			        kat[k].len, astra__blake3_impl_name(impls[i]));
			astra__blake3_with(
			        impls[i], kat_key, d, kat[k].len, out);
			astra__hex_encode(h, out, 32);
			cr_expect_str_eq(h, kat[k].keyed,
			        "keyed, %zu bytes, %s", kat[k].len,
			        astra__blake3_impl_name(impls[i]));
		}
	}
	/* the dispatched entry points */
	uint8_t out[32];
	char h[65];
	astra__blake3_hash(d, 1025, out);
	astra__hex_encode(h, out, 32);
	cr_assert_str_eq(h, kat[7].hash);
	astra__blake3_keyed(kat_key, d, 1025, out);
	astra__hex_encode(h, out, 32);
	cr_assert_str_eq(h, kat[7].keyed);
	free(d);
}

/* The CPU this runs on has the SIMD paths the dispatcher would choose;
 * say which, so a log shows what was covered. */
Test(crypto_blake3, implementations_agree_on_random_lengths)
{
	const size_t max = (3u << 20) + 4097;
	uint8_t *d = malloc(max);
	cr_assert_not_null(d);
	srand(1234);
	for (size_t i = 0; i < max; i++)
		d[i] = (uint8_t)rand();
	uint8_t key[32];
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(rand() >> 3);
	cr_log_info("blake3: dispatch uses %s (avx2 %d, avx512 %d)",
	        astra__blake3_impl_name(ASTRA_BLAKE3_AUTO),
	        astra__blake3_supported(ASTRA_BLAKE3_AVX2),
	        astra__blake3_supported(ASTRA_BLAKE3_AVX512));
	for (int round = 0; round < 300; round++) {
		size_t n;
		int r = rand();
		if (round < 40)
			n = (size_t)round * 1024 + (size_t)(r % 3) - 1 +
			    (round == 0);
		else if (round % 5 == 0)
			n = (size_t)r % max;
		else
			n = (size_t)r % (70u << 10);
		size_t off = (size_t)(rand() % 64);
		if (n + off > max)
			n = max - off;
		const uint8_t *mk = round % 2 ? key : NULL;
		uint8_t ref[32], got[32];
		astra__blake3_with(ASTRA_BLAKE3_PORTABLE, mk, d + off, n, ref);
		for (size_t i = 1; i < sizeof(impls) / sizeof(impls[0]); i++) {
			if (!astra__blake3_supported(impls[i]))
				continue;
			astra__blake3_with(impls[i], mk, d + off, n, got);
			cr_assert(memcmp(ref, got, 32) == 0,
			        "%s differs from portable on %zu bytes at "
			        "offset %zu (%s)",
			        astra__blake3_impl_name(impls[i]), n, off,
			        mk ? "keyed" : "hash");
		}
	}
	free(d);
}

Test(crypto_blake3, key_and_every_byte_matter)
{
	uint8_t d[3000], key[32] = { 0 }, a[32], b[32];
	memset(d, 7, sizeof(d));
	astra__blake3_keyed(key, d, sizeof(d), a);
	key[31] ^= 1;
	astra__blake3_keyed(key, d, sizeof(d), b);
	cr_assert(memcmp(a, b, 32) != 0);
	key[31] ^= 1;
	d[2999] ^= 0x80;
	astra__blake3_keyed(key, d, sizeof(d), b);
	cr_assert(memcmp(a, b, 32) != 0);
	/* keyed with the IV's bytes is still not hash mode (the flag) */
	astra__blake3_hash(d, sizeof(d), a);
	static const uint8_t ivk[32] = { 0x67, 0xe6, 0x09, 0x6a, 0x85, 0xae,
		0x67, 0xbb, 0x72, 0xf3, 0x6e, 0x3c, 0x3a, 0xf5, 0x4f, 0xa5,
		0x7f, 0x52, 0x0e, 0x51, 0x8c, 0x68, 0x05, 0x9b, 0xab, 0xd9,
		0x83, 0x1f, 0x19, 0xcd, 0xe0, 0x5b };
	astra__blake3_keyed(ivk, d, sizeof(d), b);
	cr_assert(memcmp(a, b, 32) != 0);
	cr_assert_not(astra__blake3_supported(42));
}
