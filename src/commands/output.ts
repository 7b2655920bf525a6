/** What a command prints on stdout, and the exit code it ends with. */
export interface CommandOutput {
  stdout: string;
  code: number;
}
