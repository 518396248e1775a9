/** Logs one line of kernel diagnostics to the kernel's real stderr (the Jupyter server's terminal). */
export type Log = (text: string) => void;
