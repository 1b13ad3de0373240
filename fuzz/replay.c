/*
 * A main() for machines without libFuzzer: runs the fuzz target once on
 * every file named (directories are walked one level), each in a child
 * process so that one failure does not hide the others, and prints
 *   replay: N inputs, F failed
 * followed by the failing files.  Exits 1 if any failed.
 */

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static int    cs_inputs;
static int    cs_failed;


static int
cs_one(const char *path)
{
    int     status;
    FILE   *fp;
    long    n;
    pid_t   pid;
    uint8_t  *buf;

    cs_inputs++;

    pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }

    if (pid == 0) {
        fp = fopen(path, "rb");
        if (fp == NULL || fseek(fp, 0, SEEK_END) != 0
            || (n = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0)
        {
            perror(path);
            _exit(2);
        }

        /* exactly n bytes, so that ASan sees a read past the end */
        buf = malloc(n ? (size_t) n : 1);
        if (buf == NULL || fread(buf, 1, (size_t) n, fp) != (size_t) n) {
            perror(path);
            _exit(2);
        }

        fclose(fp);

        LLVMFuzzerTestOneInput(buf, (size_t) n);

        free(buf);
        exit(0);
    }

    if (waitpid(pid, &status, 0) < 0) {
        perror("waitpid");
        exit(2);
    }

    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return 0;
    }

    cs_failed++;
    fprintf(stderr, "replay: FAILED %s\n", path);

    return -1;
}


static int
cs_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}


static void
cs_dir(const char *dir)
{
    DIR            *d;
    char          **names, *path;
    size_t          n, cap, i, len;
    struct stat     st;
    struct dirent  *e;

    d = opendir(dir);
    if (d == NULL) {
        perror(dir);
        exit(2);
    }

    names = NULL;
    n = 0;
    cap = 0;

    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }

        len = strlen(dir) + strlen(e->d_name) + 2;
        path = malloc(len);
        if (path == NULL) {
            exit(2);
        }

        snprintf(path, len, "%s/%s", dir, e->d_name);

        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }

        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = realloc(names, cap * sizeof(char *));
            if (names == NULL) {
                exit(2);
            }
        }

        names[n++] = path;
    }

    closedir(d);

    if (n) {
        qsort(names, n, sizeof(char *), cs_cmp);
    }

    for (i = 0; i < n; i++) {
        (void) cs_one(names[i]);
        free(names[i]);
    }

    free(names);
}


int
main(int argc, char **argv)
{
    int          i;
    struct stat  st;

    for (i = 1; i < argc; i++) {
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            return 2;
        }

        if (S_ISDIR(st.st_mode)) {
            cs_dir(argv[i]);

        } else {
            (void) cs_one(argv[i]);
        }
    }

    printf("replay: %d inputs, %d failed\n", cs_inputs, cs_failed);

    return cs_failed ? 1 : 0;
}
