/* Marks one symbol-version requirement of an ELF shared library as weak (VER_FLG_WEAK), so the
 * dynamic loader accepts a libstdc++ that lacks that version. Used on libLibTorchSharp.so, which
 * needs GLIBCXX_3.4.32 only for std::ios_base_library_init(); a shim library provides that symbol.
 *
 * usage: weaken_verneed <file.so> <version-name>      exit 0: patched or already weak; 3: not found
 */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s <file.so> <version>\n", argv[0]); return 2; }
    FILE *f = fopen(argv[1], "r+b");
    if (!f) { perror(argv[1]); return 2; }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *img = malloc(size);
    if (!img || fread(img, 1, size, f) != (size_t)size) { fprintf(stderr, "%s: read failed\n", argv[1]); return 2; }

    Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64) {
        fprintf(stderr, "%s: not a 64-bit ELF file\n", argv[1]); return 2;
    }
    Elf64_Shdr *sh = (Elf64_Shdr *)(img + eh->e_shoff);
    for (int i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_GNU_verneed) continue;
        const char *strtab = (const char *)(img + sh[sh[i].sh_link].sh_offset);
        unsigned char *need = img + sh[i].sh_offset;
        for (;;) {
            Elf64_Verneed *vn = (Elf64_Verneed *)need;
            unsigned char *aux = need + vn->vn_aux;
            for (int k = 0; k < vn->vn_cnt; k++) {
                Elf64_Vernaux *va = (Elf64_Vernaux *)aux;
                if (strcmp(strtab + va->vna_name, argv[2]) == 0) {
                    if (!(va->vna_flags & VER_FLG_WEAK)) {
                        va->vna_flags |= VER_FLG_WEAK;
                        long off = (long)((unsigned char *)&va->vna_flags - img);
                        fseek(f, off, SEEK_SET);
                        fwrite(&va->vna_flags, sizeof va->vna_flags, 1, f);
                    }
                    fclose(f);
                    return 0;
                }
                if (!va->vna_next) break;
                aux += va->vna_next;
            }
            if (!vn->vn_next) break;
            need += vn->vn_next;
        }
    }
    fclose(f);
    fprintf(stderr, "%s: no requirement for %s\n", argv[1], argv[2]);
    return 3;
}
