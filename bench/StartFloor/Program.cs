using Stream stdin = Console.OpenStandardInput();
byte[] sink = new byte[16 * 1024];
while (stdin.Read(sink) > 0)
{
}
