/*
 * Back up a directory into a vault, restore it elsewhere, check the vault.
 *   backup_restore VAULT_URL SOURCE_DIR TARGET_DIR   (password in
 * $ASTRA_VAULT_PASSWORD) Build: cc backup_restore.c $(pkg-config --cflags
 * --libs astra) SPDX-License-Identifier: Apache-2.0
 */
#include <astra.h>
#include <stdio.h>
#include <stdlib.h>

static int progress(const astra_progress *p, void *payload)
{
	(void)payload;
	fprintf(stderr, "\r%llu / %llu bytes",
	        (unsigned long long)p->bytes_done,
	        (unsigned long long)p->bytes_total);
	return 0; /* non-zero would cancel */
}

static int fail(const char *what)
{
	fprintf(stderr, "\n%s: %s\n", what, astra_error_last()->message);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s VAULT_URL SOURCE TARGET\n", argv[0]);
		return 2;
	}
	if (astra_init() < 0)
		return fail("astra_init");

	astra_vault_options vo;
	astra_vault_options_init(&vo, ASTRA_VAULT_OPTIONS_VERSION);
	vo.password = getenv("ASTRA_VAULT_PASSWORD");
	astra_vault *vault = NULL;
	int rc = astra_vault_open(&vault, argv[1], &vo);
	if (rc == ASTRA_ENOTFOUND) /* no vault there yet: create one */
		rc = astra_vault_init(&vault, argv[1], &vo);
	if (rc < 0)
		return fail("open vault");

	astra_data_backup_options bo;
	astra_data_backup_options_init(&bo, ASTRA_DATA_BACKUP_OPTIONS_VERSION);
	bo.progress_cb = progress;
	astra_data_backup_result res = { ASTRA_DATA_BACKUP_RESULT_VERSION };
	if (astra_vault_backup_path(vault, argv[2], &bo, &res) < 0)
		return fail("backup");
	printf("\nsnapshot %s: %llu files, %llu new bytes, %llu stored\n",
	        res.id, (unsigned long long)res.files,
	        (unsigned long long)res.bytes_new,
	        (unsigned long long)res.bytes_stored);

	astra_buf report = ASTRA_BUF_INIT;
	rc = astra_vault_restore_path(
	        vault, res.id, argv[3], NULL, NULL, &report);
	if (rc == ASTRA_EPARTIAL)
		fprintf(stderr, "some items failed:\n%s\n", report.ptr);
	else if (rc < 0)
		return fail("restore");
	astra_buf_dispose(&report);

	astra_check_options co;
	astra_check_options_init(&co, ASTRA_CHECK_OPTIONS_VERSION);
	co.flags = ASTRA_CHECK_F_READ_DATA;
	if (astra_vault_check(vault, &co, NULL) < 0)
		return fail("check");
	printf("restored into %s; vault verified\n", argv[3]);
	astra_vault_free(vault);
	astra_shutdown();
	return 0;
}
